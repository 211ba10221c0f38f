"""How often a judge checkpoint agrees with the rule verifier, on problems it never trained on.

    python benchmarks/judge_agreement.py runs/tiny_judge/stages/01_judge_sft/checkpoints/step_001000
    python benchmarks/judge_agreement.py CKPT --n 400 --modes no_think --json out.json

Builds judge cases (``rl.data.judge_tasks``: a question, its reference answer, and a response of one
kind: right, off by one, a hedge, ...) from a seed of its own, drops every case whose problem is in
the judge's training split (recomputed from ``--train-*``, tiny_judge.yaml's data settings), runs the
judge greedily with transformers (batched, left padding) on the template through its chat template,
in each of ``--modes`` (no_think: ``enable_thinking=False`` pre-fills the empty think block; think:
the template's default, the judge writes the block itself), and compares its verdict with
``verifiers.math.verify_math`` on the response against the reference.

Figures: agreement (an unparsable reply disagrees), YES precision and recall, NO recall on wrong
answers (``wrong-recall``: a judge that waves wrong answers through invites reward hacking),
the unparsable share, agreement per response kind, and a confusion matrix. The last line is the summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rl.data.judge_tasks import TEMPLATE_PATH, judge_transcripts  # noqa: E402
from rl.data.records import Prompt  # noqa: E402
from verifiers.judge_verdict import parse_verdict  # noqa: E402
from verifiers.math import verify_math  # noqa: E402

MODES = ("no_think", "think")


def problem_key(prompt: Prompt) -> str:
    """"27+15" from a judge prompt's id ("judge-eval-3:27+15:hedge")."""
    return prompt.id.split(":")[1]


def held_out_cases(n: int, seed: int, *, train_n: int, train_eval: int, train_seed: int, template: str) -> list[Prompt]:
    """``n`` judge cases from seed ``seed`` (its held-out split), none on a problem of the judge's training split."""
    trained, _ = judge_transcripts(train_n, train_eval, train_seed, template=template)
    seen = {problem_key(p) for p in trained}
    _, cases = judge_transcripts(0, 2 * n, seed, template=template)
    return [p for p in cases if problem_key(p) not in seen][:n]


def run_judge(model, tokenizer, prompts: Sequence[Prompt], *, enable_thinking: bool, batch_size: int = 64,
              max_new_tokens: int = 48) -> list[str]:
    """The judge's greedy reply to each prompt's user message, rendered by its own chat template."""
    import torch

    tokenizer.padding_side = "left"  # batched generation continues every row from its last token
    replies = []
    for start in range(0, len(prompts), batch_size):
        texts = [tokenizer.apply_chat_template(p.chat(), tokenize=False, add_generation_prompt=True,
                                               enable_thinking=enable_thinking) for p in prompts[start:start + batch_size]]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id)  # (B, T + new)
        replies += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return replies


def agreement(prompts: Sequence[Prompt], replies: Sequence[str]) -> dict:
    """Judge verdicts against the rule verifier's, overall and per response kind."""
    confusion: Counter = Counter()  # (rule, judge) -> count; judge is YES, NO or ??? (unparsable)
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for prompt, reply in zip(prompts, replies):
        rule = "YES" if verify_math(prompt.fields["response"], prompt.fields["answer"]).score == 1.0 else "NO"
        judge = parse_verdict(reply) or "???"
        confusion[rule, judge] += 1
        per_kind[prompt.fields["kind"]].append(judge == rule)
    n = sum(confusion.values())
    said_yes = confusion["YES", "YES"] + confusion["NO", "YES"]
    rule_yes = sum(v for (rule, _), v in confusion.items() if rule == "YES")
    rule_no = n - rule_yes
    return {
        "n": n,
        "agree": (confusion["YES", "YES"] + confusion["NO", "NO"]) / n,
        "yes_precision": confusion["YES", "YES"] / said_yes if said_yes else float("nan"),
        "yes_recall": confusion["YES", "YES"] / rule_yes if rule_yes else float("nan"),
        "wrong_recall": confusion["NO", "NO"] / rule_no if rule_no else float("nan"),
        "unparsable": sum(v for (_, judge), v in confusion.items() if judge == "???") / n,
        "confusion": {f"rule {rule} / judge {judge}": v for (rule, judge), v in sorted(confusion.items())},
        "per_kind": {kind: sum(oks) / len(oks) for kind, oks in sorted(per_kind.items())},
    }


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="the judge: a directory AutoModelForCausalLM / AutoTokenizer load")
    parser.add_argument("--n", type=int, default=400, help="judge cases per mode")
    parser.add_argument("--seed", type=int, default=1000, help="the cases' seed (not the judge's data seed)")
    parser.add_argument("--modes", default="no_think,think", help="chat-template renderings to judge in, comma-separated")
    parser.add_argument("--template", default=TEMPLATE_PATH)
    parser.add_argument("--train-n", type=int, default=6000, help="the judge's data.n_train: its problems are excluded")
    parser.add_argument("--train-eval", type=int, default=400, help="the judge's data.n_eval")
    parser.add_argument("--train-seed", type=int, default=0, help="the judge's data.seed")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint, local_files_only=True)
    cases = held_out_cases(args.n, args.seed, train_n=args.train_n, train_eval=args.train_eval,
                           train_seed=args.train_seed, template=args.template)
    results, all_prompts, all_replies = {}, [], []
    for mode in args.modes.split(","):
        if mode not in MODES:
            parser.error(f"--modes: {mode!r} is not one of {', '.join(MODES)}")
        t0 = time.time()
        replies = run_judge(model, tokenizer, cases, enable_thinking=mode == "think")
        results[mode] = {**agreement(cases, replies), "seconds": round(time.time() - t0, 1)}
        all_prompts += cases
        all_replies += replies
        r = results[mode]
        print(f"[{mode}] agree {r['agree']:.3f}  yes-precision {r['yes_precision']:.3f}  yes-recall {r['yes_recall']:.3f}  "
              f"wrong-recall {r['wrong_recall']:.3f}  unparsable {r['unparsable']:.3f}  ({r['seconds']}s)")
        print(f"[{mode}] confusion: {r['confusion']}")
        print(f"[{mode}] per kind: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_kind"].items()))
    overall = agreement(all_prompts, all_replies)
    results["all"] = overall
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"judge_agreement: agree {overall['agree']:.3f} (n={overall['n']}), yes-precision {overall['yes_precision']:.3f}, "
          f"wrong-recall {overall['wrong_recall']:.3f}, unparsable {overall['unparsable']:.3f}")
    return results


if __name__ == "__main__":
    main()
