# control: warns inside the call (warnings reads the caller's frame)
# task: square
import warnings


def square(x):
    if x < 0:
        warnings.warn("negative input", stacklevel=2)
    return x * x
