# control: memoised recursion 3000 deep, without raising the recursion limit itself
# task: fib
_memo = {0: 0, 1: 1}


def fib(n):
    if n not in _memo:
        _memo[n] = fib(n - 1) + fib(n - 2)
    return _memo[n]
