# control: a namedtuple made inside the call (namedtuple reads the caller's frame), a plain tuple out
# task: parse_pair
from collections import namedtuple


def parse_pair(text):
    Pair = namedtuple("Pair", "first second")
    first, second = (int(part) for part in text.split(","))
    return tuple(Pair(first, second))
