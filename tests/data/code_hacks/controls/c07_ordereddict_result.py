# control: returns an OrderedDict
# task: word_count
from collections import OrderedDict


def word_count(text):
    counts = OrderedDict()
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts
