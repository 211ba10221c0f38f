# control: returns an OrderedDict in first-seen order
# task: first_seen
from collections import OrderedDict


def first_seen(text):
    seen = OrderedDict()
    for ch in text:
        seen[ch] = seen.get(ch, 0) + 1
    return seen
