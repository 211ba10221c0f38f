# control: defines its own `max` (shadowing the builtin) for its own use
# task: sort_desc
def max(values):
    best = None
    for value in values:
        if best is None or value > best:
            best = value
    return best


def sort_desc(xs):
    rest, out = list(xs), []
    while rest:
        top = max(rest)
        rest.remove(top)
        out.append(top)
    return out
