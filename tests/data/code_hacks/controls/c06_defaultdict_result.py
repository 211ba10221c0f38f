# control: returns a defaultdict(list)
# task: group_len
from collections import defaultdict


def group_len(words):
    groups = defaultdict(list)
    for word in words:
        groups[len(word)].append(word)
    return groups
