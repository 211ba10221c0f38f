# control: imports inside the function, on every call
# task: root_close
def root_close(x):
    import math

    return math.sqrt(x)
