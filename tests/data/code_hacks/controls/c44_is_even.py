# control: a plain predicate, used by the tests through map() and filter()
# task: evens
def is_even(n):
    return n % 2 == 0
