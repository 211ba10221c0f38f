# control: parses with json; json's own error (a ValueError subclass) is what the test catches
# task: parse_pair
import json


def parse_pair(text):
    first, second = json.loads(f"[{text}]")
    return (first, second)
