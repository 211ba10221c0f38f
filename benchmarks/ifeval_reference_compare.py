"""The ``ifeval`` verifier beside IFEval's reference checks, on our labelled cases.

    pip download lm_eval --no-deps -d /tmp/lmeval && (cd /tmp/lmeval && unzip -q lm_eval-*.whl 'lm_eval/tasks/ifeval/*')
    PYTHONPATH=.:/tmp/lmeval python benchmarks/ifeval_reference_compare.py   # needs langdetect, nltk, immutabledict

Runs every case of ``tests/data/ifeval_cases.jsonl`` (or ``--cases FILE``: one response, one
instruction, a label each) through ``verifiers.instructions.verify_ifeval`` and through the reference
(google-research ``instruction_following_eval`` as lm-evaluation-harness vendors it,
``lm_eval/tasks/ifeval``), strict mode, and prints: agreement with the labels for each side, agreement
between the two, every case where they disagree and every case where ours misses the label. The
deliberate differences are listed in ``verifiers.instructions``.

The reference files are loaded on their own, without ``lm_eval/__init__`` and its task manager (which
need the harness's heavy dependencies). nltk's trained ``punkt`` sentence model cannot be downloaded
everywhere: when it is absent the reference counts sentences with nltk's untrained punkt (no learned
abbreviations) and tokenises words without it; the run says so. A case whose arguments the reference
rejects (our "exactly" relation) is reported as not comparable. Skips, saying why, when lm_eval is
not importable. Last line: a one-line summary.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import io
import json
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from verifiers.instructions import verify_ifeval  # noqa: E402  (after the path fix above)

CASES = REPO / "tests" / "data" / "ifeval_cases.jsonl"
PACKAGE = "lm_eval.tasks.ifeval"


def load_reference() -> tuple[object, str]:
    """The reference's instruction registry, and a note on how sentences are counted; raises ImportError."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("lm_eval is not importable")
    root = Path(next(iter(spec.submodule_search_locations)))
    folder = root / "tasks" / "ifeval"
    if not (folder / "instructions.py").is_file():
        raise ImportError(f"{folder} has no instructions.py")
    import immutabledict  # noqa: F401
    import langdetect
    import nltk  # the reference needs these three; an ImportError says which is missing

    langdetect.DetectorFactory.seed = 0  # the reference does not seed: one answer per text, as ours
    nltk.download = lambda *a, **k: False  # the reference downloads punkt at import; no network here
    for name, path in (("lm_eval", root), ("lm_eval.tasks", root / "tasks"), (PACKAGE, folder)):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules.setdefault(name, module)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Downloaded punkt_tab" even when it did not
        util = importlib.import_module(f"{PACKAGE}.instructions_util")
    note = "nltk punkt (trained)"
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
    except LookupError:
        untrained = nltk.tokenize.punkt.PunktSentenceTokenizer()
        util._get_sentence_tokenizer = lambda: untrained
        nltk.word_tokenize = functools.partial(nltk.tokenize.word_tokenize, preserve_line=True)
        note = "nltk punkt UNTRAINED (trained model not available)"
    return importlib.import_module(f"{PACKAGE}.instructions_registry"), note


def reference_followed(registry, case: dict) -> bool | None:
    """The reference's strict verdict on one case; None when it rejects the arguments."""
    instruction = registry.INSTRUCTION_DICT[case["instruction_id"]](case["instruction_id"])
    try:
        instruction.build_description(**{k: v for k, v in case["kwargs"].items() if v})
        response = case["response"]
        return bool(response.strip() and instruction.check_following(response))
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES, help="labelled cases, one JSON object per line "
                        "(id, instruction_id, kwargs, response, followed, note); default: %(default)s")
    args = parser.parse_args(argv)
    try:
        registry, note = load_reference()
    except ImportError as exc:
        print(f"skipped: the reference IFEval checks are not importable ({exc}); see this script's docstring")
        print("ifeval_reference_compare: skipped")
        return 0
    cases = [json.loads(line) for line in args.cases.read_text(encoding="utf-8").splitlines() if line.strip()]
    ours_right = ref_right = agree = comparable = 0
    lines = []
    for case in cases:
        verdict = verify_ifeval(case["response"], "", instruction_id_list=[case["instruction_id"]], kwargs=[case["kwargs"]])
        ours = verdict.status == "ok" and verdict.score == 1.0
        ref = reference_followed(registry, case)
        ours_right += ours == case["followed"]
        if ours != case["followed"]:
            lines.append(f"  ours wrong  {case['id']} ({case['instruction_id']}): label={case['followed']} ours={ours}  "
                         f"{verdict.reason}  [{case.get('note', '')}]\n      response={case['response']!r}")
        if ref is None:
            lines.append(f"  not comparable  {case['id']}: the reference rejects {case['kwargs']}")
            continue
        comparable += 1
        ref_right += ref == case["followed"]
        agree += ours == ref
        if ours != ref:
            lines.append(f"  disagree  {case['id']} ({case['instruction_id']}): label={case['followed']} ours={ours} "
                         f"reference={ref}  {case.get('note', '')}\n      response={case['response']!r}")
    print(f"cases: {len(cases)} ({comparable} comparable); reference sentences by {note}")
    print(f"ours matches the labels:      {ours_right}/{len(cases)}")
    print(f"reference matches the labels: {ref_right}/{comparable}")
    print(f"ours agrees with reference:   {agree}/{comparable}")
    print("\n".join(lines))
    print(f"ifeval_reference_compare: cases={len(cases)} ours_vs_labels={ours_right}/{len(cases)} "
          f"reference_vs_labels={ref_right}/{comparable} agreement={agree}/{comparable} ({note.split(' (')[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
