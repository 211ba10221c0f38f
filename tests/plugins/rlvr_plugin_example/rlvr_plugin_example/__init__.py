"""A plug-in verifier as a third party would ship it: a plain function plus an entry point."""
from verifiers import Verdict


def casefold_match(completion: str, reference, **fields) -> Verdict:
    """Correct when the last line equals the reference, ignoring case."""
    answer = completion.strip().splitlines()[-1].strip() if completion.strip() else None
    if answer is None:
        return Verdict(0.0, "no_answer", None, "empty completion")
    same = answer.casefold() == str(reference).casefold()
    return Verdict(float(same), "ok", answer, "same words" if same else "different words")
