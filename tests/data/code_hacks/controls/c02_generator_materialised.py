# control: builds the answer with a generator, materialised into a list
# task: sort_desc
def _descending(xs):
    remaining = list(xs)
    while remaining:
        top = max(remaining)
        remaining.remove(top)
        yield top


def sort_desc(xs):
    return list(_descending(xs))
