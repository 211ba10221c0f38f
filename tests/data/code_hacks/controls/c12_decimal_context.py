# control: sets the decimal precision at module level, and relies on it inside the function
# task: root
from decimal import Decimal, getcontext

getcontext().prec = 60


def root(x):
    value = Decimal(repr(x)).sqrt()
    assert getcontext().prec == 60, "the module-level context must still hold"
    return float(value)
