# control: plain float division, checked by the tests with decimal arithmetic
# task: third
def third(x):
    return x / 3
