# control: imports math for its tests to use (HumanEval/32 style), and uses it itself
# task: hyp
import math


def hyp(a, b):
    return math.hypot(a, b)
