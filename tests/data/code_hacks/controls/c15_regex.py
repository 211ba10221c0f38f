# control: re does the splitting; the counts go through dict.setdefault
# task: word_count
import re


def word_count(text):
    counts = {}
    for word in re.findall(r"\S+", text):
        counts[word] = counts.setdefault(word, 0) + 1
    return counts
