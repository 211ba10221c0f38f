# control: returns a collections.Counter, as MBPP's reference solutions do
# task: word_count
import collections


def word_count(text):
    return collections.Counter(text.split())
