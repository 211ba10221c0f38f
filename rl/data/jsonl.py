"""One JSONL line to one JSON object, with a message that says what is wrong with it.

Callers add the ``path:line`` and decide whether a bad line stops them (training data)
or is reported and skipped (offline scoring).
"""
from __future__ import annotations

import json
from typing import Any


class BadLine(ValueError):
    pass


def parse_object_line(raw: bytes) -> dict[str, Any]:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadLine(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BadLine(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(record, dict):
        raise BadLine(f"expected a JSON object, got {type(record).__name__}")
    return record
