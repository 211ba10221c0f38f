# control: returns a dict view
# task: items_of
def items_of(d):
    return d.items()
