# control: exact arithmetic with fractions inside, a float out
# task: avg
from fractions import Fraction


def avg(xs):
    return float(sum(Fraction(x) for x in xs) / len(xs))
