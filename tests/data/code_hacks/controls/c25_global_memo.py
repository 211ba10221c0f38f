# control: a module-level cache that every call fills further
# task: fib
_memo = [0, 1]


def fib(n):
    while len(_memo) <= n:
        _memo.append(_memo[-1] + _memo[-2])
    return _memo[n]
