"""Routing samples to the judge: ``judge`` prompts to the served model, ``cascade`` prompts to their rule
verifier first and the judge for what it rejected, everything else to the verifier pool.

    routing = JudgeRouting(config.judge, cache_path=Path(config.run.out_dir) / "judge_cache.sqlite")
    verdicts = routing.score(requests, questions, pool)    # one verdict per request, in order
    routing.metrics()                                      # judge/requests, judge/cache_hits, ..., judge/overruled
    with routing.counted_apart() as counts: ...            # counts of the block alone (a held-out eval's)

The judge is built on first use, so a run whose prompts never name it opens no connection. Judge items
go out as one batch per call (the backend bounds concurrency), never one by one through the pool.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rl.config.schema import JudgeConfig
from rl.data.records import Prompt
from verifiers import VerifierPool, VerifyRequest
from verifiers.judge import JUDGE_VERIFIERS, Judge, JudgeItem, cascade
from verifiers.verdict import Verdict

RULE_VERIFIER_FIELD = "rule_verifier"  # a cascade prompt's own rule verifier, over judge.rule_verifier


def question_of(prompt: Prompt) -> str:
    """What the judge is told the question was: the prompt's text, or its last user turn."""
    if prompt.text is not None:
        return prompt.text
    return next((content for role, content in reversed(prompt.messages or ()) if role == "user"), "")


class JudgeRouting:
    def __init__(self, config: JudgeConfig, *, cache_path: str | Path | None = None, judge: Judge | None = None):
        self.config, self.cache_path = config, cache_path
        self._judge = judge
        self._overruled = 0

    @property
    def judge(self) -> Judge:
        if self._judge is None:
            self.config.check_usable()
            self._judge = Judge(self.config, cache_path=self.cache_path)
        return self._judge

    def score(self, requests: Sequence[VerifyRequest], questions: Sequence[str], pool: VerifierPool,
              default_verifier: str = "math") -> list[Verdict]:
        """Verdicts for ``requests`` (``questions[i]`` is what request i answers): pool items and cascade rules in
        one pool batch, then one judge batch for ``judge`` items and the cascade items the rule turned down."""
        names = [r.verifier or default_verifier for r in requests]
        direct = [i for i, name in enumerate(names) if name == "judge"]
        pooled = [i for i, name in enumerate(names) if name != "judge"]
        verdicts: list[Verdict | None] = [None] * len(requests)
        for i, verdict in zip(pooled, pool.score([self._pool_request(requests[i], names[i]) for i in pooled])):
            verdicts[i] = verdict
        ruled = [i for i in pooled if names[i] == "cascade"]
        asked = direct + ruled
        if asked:
            items = [self._item(requests[i], questions[i]) for i in asked]
            rule = [verdicts[i] for i in ruled]
            judged, overruled = cascade(rule, items[len(direct):], self.judge) if ruled else ([], 0)
            self._overruled += overruled
            for i, verdict in zip(direct, self.judge.judge(items[:len(direct)]) if direct else []):
                verdicts[i] = verdict
            for i, verdict in zip(ruled, judged):
                verdicts[i] = verdict
        return verdicts  # type: ignore[return-value]  # every slot is filled above

    def _pool_request(self, request: VerifyRequest, name: str) -> VerifyRequest:
        if name != "cascade":
            return request
        fields = dict(request.fields)
        rule = fields.pop(RULE_VERIFIER_FIELD, None) or self.config.rule_verifier
        if rule in JUDGE_VERIFIERS:
            raise ValueError(f"item {request.item_id!r}: a cascade's rule verifier must be a rule, not {rule!r}")
        return replace(request, verifier=rule, fields=fields)

    @staticmethod
    def _item(request: VerifyRequest, question: str) -> JudgeItem:
        reference = request.reference if isinstance(request.reference, str) else str(request.reference or "")
        return JudgeItem(question, request.completion, reference, request.item_id)

    def metrics(self) -> dict[str, float]:
        """``judge/*`` counts since the previous call; empty when no prompt has needed the judge yet."""
        if self._judge is None:
            return {}
        out = {f"judge/{key}": value for key, value in self._judge.stats().items()}
        out["judge/overruled"], self._overruled = self._overruled, 0
        return out

    @contextmanager
    def counted_apart(self) -> Iterator[dict[str, float]]:
        """The ``judge/*`` counts of the block go to the dict it yields (filled when it ends), not to ``metrics()``,
        which afterwards still reports what was counted before it: a held-out eval's judging is not a training step's."""
        before = (self._judge.swap_counts() if self._judge is not None else None), self._overruled
        self._overruled = 0
        own: dict[str, float] = {}
        try:
            yield own
        finally:
            own.update(self.metrics())
            if before[0] is not None:  # else the judge was built in the block: nothing was counted before it
                self._judge.swap_counts(before[0])
            self._overruled = before[1]

    def close(self) -> None:
        if self._judge is not None:
            self._judge.close()
