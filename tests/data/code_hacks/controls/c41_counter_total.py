# control: returns a Counter, whose total() the tests call
# task: top_counts
from collections import Counter


def top_counts(text):
    return Counter(text.split())
