# control: returns an iterator (filter), which the tests wrap in list() or sum()
# task: evens_upto
def evens_upto(n):
    return filter(lambda k: k % 2 == 0, range(n))
