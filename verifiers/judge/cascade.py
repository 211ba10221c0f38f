"""Rules first, the judge for what the rules turned down: the cheap verifier stays the authority on
what it accepts, and a served model gets a say only where a rule may have missed an equivalent answer.

    rule = pool.score(requests)                                     # e.g. the math verifier
    final, overruled = cascade(rule, [JudgeItem(q, c, ref) for ...], judge)

Only verdicts the rule judged wrong (status ``ok``, score below 1) or found no answer in go to the judge.
A rule verdict that is unjudged (timeout, error, bad reference) stays unjudged: the judge is not a
fallback for a broken verifier. When the judge itself cannot judge an item, the item is unjudged too,
so that a judge outage shows up in ``run.max_unjudged_fraction`` instead of hiding behind the rule's 0.
"""
from __future__ import annotations

from collections.abc import Sequence

from verifiers.judge.judge import Judge, JudgeItem
from verifiers.verdict import Verdict, unjudged


def asks_judge(rule: Verdict) -> bool:
    return rule.status == "no_answer" or (rule.status == "ok" and rule.score < 1.0)


def cascade(rule_verdicts: Sequence[Verdict], items: Sequence[JudgeItem], judge: Judge) -> tuple[list[Verdict], int]:
    """The final verdicts and how many the judge overruled (scored higher than the rule did)."""
    if len(rule_verdicts) != len(items):
        raise ValueError(f"{len(rule_verdicts)} rule verdicts but {len(items)} items")
    asked = [i for i, rule in enumerate(rule_verdicts) if asks_judge(rule)]
    final, overruled = list(rule_verdicts), 0
    for index, verdict in zip(asked, judge.judge([items[i] for i in asked])):
        rule = rule_verdicts[index]
        if verdict.unjudged:
            final[index] = unjudged(verdict.status, f"rule: {rule.reason}; the judge could not judge: {verdict.reason}",
                                    rule.extracted)
            continue
        overruled += verdict.score > rule.score
        final[index] = Verdict(verdict.score, verdict.status, rule.extracted or verdict.extracted,
                               f"rule: {rule.reason}; {verdict.reason}")
    return final, overruled
