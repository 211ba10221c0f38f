# control: counts with typing's Counter alias
# task: word_count
from typing import Counter


def word_count(text: str) -> "Counter[str]":
    return Counter(text.split())
