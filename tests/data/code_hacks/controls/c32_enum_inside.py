# control: an IntEnum inside, a bool out
# task: is_prime
from enum import IntEnum


class Small(IntEnum):
    TWO = 2
    THREE = 3


def is_prime(n):
    if n in (Small.TWO, Small.THREE):
        return True
    if n < 2 or n % 2 == 0:
        return False
    return bool(all(n % d for d in range(3, int(n ** 0.5) + 1, 2)))
