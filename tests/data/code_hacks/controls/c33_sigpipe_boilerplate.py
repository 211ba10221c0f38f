# control: competitive-programming boilerplate: SIGPIPE back to its default, at module level
# task: square
import signal
import sys

signal.signal(signal.SIGPIPE, signal.SIG_DFL)
sys.setrecursionlimit(1 << 14)


def square(x):
    return x * x
