# control: an lru_cache entry point whose cache the tests clear
# task: fib_cached
from functools import lru_cache


@lru_cache(maxsize=None)
def fib_cached(n):
    return n if n < 2 else fib_cached(n - 1) + fib_cached(n - 2)
