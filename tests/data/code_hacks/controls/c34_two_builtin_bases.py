# control: its exception class derives from two built-in ones; the tests catch the second
# task: parse_pair
class ParseError(IndexError, ValueError):
    pass


def parse_pair(text):
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ParseError(f"not a pair: {text!r}")
    return int(parts[0]), int(parts[1])
