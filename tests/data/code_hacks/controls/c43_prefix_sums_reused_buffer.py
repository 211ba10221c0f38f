# control: reuses a module-level buffer, returning a fresh copy each call
# task: prefix_sums
import itertools

_buffer = []


def prefix_sums(xs):
    _buffer[:] = itertools.accumulate(xs)
    return list(_buffer)
