# control: the entry point is a functools.partial of a builtin
# task: square
from functools import partial

square = partial(pow, exp=2)
