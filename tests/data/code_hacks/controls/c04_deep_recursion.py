# control: deep memoised recursion (3000 levels), with a raised recursion limit
# task: fib
import sys
from functools import lru_cache

sys.setrecursionlimit(20000)


@lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
