"""Judge verdicts kept on disk, so that a resumed run or a second scoring pass does not ask again.

    cache = JudgeCache("runs/x/judge_cache.sqlite")
    key = cache_key(template, "judge-model", question, response, reference, "yes_no")
    cache.put(key, verdict); cache.get(key)

Only judged verdicts are stored: a timeout or an unparsable reply must be asked again next time. The
key covers everything the verdict depends on (template text, judge model, question, response shown,
reference, verdict format), so a changed template or model never reads an old answer. SQLite (stdlib)
in autocommit mode: each stored verdict is on disk at once, and a killed run loses nothing it paid for.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from verifiers.verdict import Verdict


def cache_key(template: str, model: str, question: str, response: str, reference: str, verdict_format: str) -> str:
    # JSON of the list: no two different tuples of strings give the same bytes (plain joining would).
    payload = json.dumps([template, model, question, response, reference, verdict_format], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: the judge's event loop thread and its caller may both touch it, one at a time
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT NOT NULL)")

    def get(self, key: str) -> Verdict | None:
        row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        return Verdict.from_dict(json.loads(row[0])) if row else None

    def put(self, key: str, verdict: Verdict) -> None:
        if verdict.unjudged:
            raise ValueError(f"only judged verdicts are cached, not {verdict.status!r}")
        self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?)", (key, json.dumps(verdict.to_dict())))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        self._db.close()
