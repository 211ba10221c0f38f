# control: raises its own ValueError subclass, which the test catches as ValueError
# task: parse_pair
class PairError(ValueError):
    pass


def parse_pair(text):
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise PairError(f"not a pair: {text!r}")
    return tuple(int(p) for p in parts)
