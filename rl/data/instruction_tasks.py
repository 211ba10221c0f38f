"""Instruction following for a tiny model: short requests with IFEval constraints, judged by ``ifeval``.

    train, held_out = instruction_following(2000, 100, seed=0)
    cold, _ = instruction_following(2000, 100, seed=0, train_kinds=("repeat", "bullets", "capitals"))

Each prompt is one request of a ``kind`` ("Write the word blue 3 times.", "List 4 colours as bullet
points.") with its own constraint, plus at most one second constraint (``modifiers``: "Do not use any
commas.", "End with the phrase 'That is all.'"). Words come from small fixed lists, so prompts stay
under ~40 tokens and answers under ~30. The record carries IFEval's fields (``instruction_id_list``,
``kwargs``), ``reference=""``, ``verifier="ifeval"`` and a correct ``solution`` for the SFT cold start:
``<think>{plan}</think> {answer}``, or the answer alone for prompts in ``no_think`` mode (a
``no_think_fraction`` of them, as in ``arithmetic``).

A problem is its (kind, arguments, modifier): the held-out split, drawn first from every kind in
``kinds``, never shares one with the train split. ``train_kinds`` limits the train split to some kinds
(as ``tool_arithmetic``'s ``wordings``), so that a cold start on them leaves the rest for RL to learn.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from rl.data.records import Prompt
from rl.modes import NO_THINK, THINK

CATEGORIES = {
    "colours": ("red", "blue", "green", "yellow", "black", "white", "pink", "brown"),
    "animals": ("cat", "dog", "fox", "cow", "pig", "hen", "owl", "bee"),
    "fruits": ("apple", "pear", "plum", "lime", "fig", "kiwi"),
}
SINGULAR = {"colours": "colour", "animals": "animal", "fruits": "fruit"}
WORDS = tuple(w for items in CATEGORIES.values() for w in items)
ADJECTIVES = ("big", "small", "happy", "fast", "slow", "soft")
PHRASES = ("That is all.", "The end.", "Thank you.")
MODIFIERS = ("no_comma", "end")
SOLUTION_FORMAT = "<think>{plan}</think> {answer}"


@dataclass(frozen=True)
class Item:
    """One generated request: the question, its constraints (IFEval id, kwargs) and a correct answer."""

    question: str
    constraints: tuple[tuple[str, dict], ...]
    answer: str
    plan: str  # what the solution's thought says: the constraints in a few words


def _repeat(word: str, n: int, reserve: int, rng: random.Random) -> Item:
    return Item(f"Write the word {word} {n} times.", (("keywords:frequency", {"keyword": word, "frequency": n,
                "relation": "exactly"}),), " ".join([word] * n) + ".", f"{word} {n} times")


def _bullets(category: str, n: int, reserve: int, rng: random.Random) -> Item:
    items = rng.sample(CATEGORIES[category], n)
    return Item(f"List {n} {category} as bullet points.", (("detectable_format:number_bullet_lists", {"num_bullets": n}),),
                "\n".join(f"* {x}" for x in items), f"{n} bullets")


def _capitals(adjective: str, noun: str, reserve: int, rng: random.Random) -> Item:
    return Item(f"Write a sentence about a {adjective} {noun} in all capital letters.",
                (("change_case:english_capital", {}),), f"THE {noun.upper()} IS {adjective.upper()}.", "all capitals")


def _lowercase(adjective: str, noun: str, reserve: int, rng: random.Random) -> Item:
    return Item(f"Write a sentence about a {adjective} {noun} in lowercase letters only.",
                (("change_case:english_lowercase", {}),), f"the {noun} is {adjective}.", "all lowercase")


def _words(adjective: str, noun: str, n: int, reserve: int, rng: random.Random) -> Item:
    content = ["the", adjective, noun, "runs", "and", "plays", "all", "day"][: n - reserve]
    return Item(f"Describe a {adjective} {noun} in exactly {n} words.",
                (("length_constraints:number_words", {"num_words": n, "relation": "exactly"}),),
                " ".join(content) + ".", f"{n} words")


def _no_comma(category: str, n: int, reserve: int, rng: random.Random) -> Item:
    items = rng.sample(CATEGORIES[category], n)
    return Item(f"Do not use any commas: name {n} {category}.", (("punctuation:no_comma", {}),),
                " ".join(items[:-1]) + f" and {items[-1]}.", "no commas")


def _quotes(word: str, reserve: int, rng: random.Random) -> Item:
    return Item(f"Write the word {word} in double quotation marks.", (("startend:quotation", {}),), f'"{word}"', "in quotes")


def _title(adjective: str, noun: str, reserve: int, rng: random.Random) -> Item:
    return Item(f"Write a title about a {adjective} {noun} in double angular brackets.",
                (("detectable_format:title", {}),), f"<<The {adjective.title()} {noun.title()}>>", "a <<title>>")


def _json(word: str, reserve: int, rng: random.Random) -> Item:
    return Item(f"Give the word {word} as a JSON object.", (("detectable_format:json_format", {}),),
                f'{{"word": "{word}"}}', "json")


def _postscript(word: str, reserve: int, rng: random.Random) -> Item:
    return Item(f"Write the word {word} and add a postscript starting with P.S.",
                (("detectable_content:postscript", {"postscript_marker": "P.S."}),), f"{word}.\nP.S. I like {word}.", "P.S. line")


def _highlight(category: str, n: int, reserve: int, rng: random.Random) -> Item:
    items = rng.sample(CATEGORIES[category], n)
    return Item(f"Name {n} {category} and highlight each like *this*.",
                (("detectable_format:number_highlighted_sections", {"num_highlights": n}),),
                " ".join(f"*{x}*" for x in items), f"{n} highlights")


def _ending(word: str, phrase: str, reserve: int, rng: random.Random) -> Item:
    return Item(f"Write the word {word} and end with the phrase '{phrase}'",
                (("startend:end_checker", {"end_phrase": phrase}),), f"{word}. {phrase}", "end phrase")


NOUN_ARGS = list(itertools.product(ADJECTIVES, CATEGORIES["animals"]))
# kind -> (builder, its argument tuples, the second constraints it may take)
KINDS: dict[str, tuple[Callable[..., Item], list[tuple], tuple[str, ...]]] = {
    "repeat": (_repeat, [(w, n) for w in WORDS for n in range(2, 7)], MODIFIERS),
    "bullets": (_bullets, [(c, n) for c in CATEGORIES for n in range(2, 6)], MODIFIERS),
    "capitals": (_capitals, NOUN_ARGS, MODIFIERS),
    "lowercase": (_lowercase, NOUN_ARGS, MODIFIERS),
    "words": (_words, [(a, w, n) for a, w in NOUN_ARGS for n in range(4, 9)], MODIFIERS),
    "no_comma": (_no_comma, [(c, n) for c in CATEGORIES for n in range(2, 5)], ("end",)),
    "quotes": (_quotes, [(w,) for w in WORDS], MODIFIERS),
    "title": (_title, NOUN_ARGS, MODIFIERS),
    "json": (_json, [(w,) for w in WORDS], ("no_comma",)),
    "postscript": (_postscript, [(w,) for w in WORDS], MODIFIERS),
    "highlight": (_highlight, [(c, n) for c in CATEGORIES for n in range(2, 5)], MODIFIERS),
    "end": (_ending, [(w, p) for w in WORDS for p in PHRASES], ("no_comma",)),
}


def _problems(kinds: Sequence[str], modifiers: Sequence[str]) -> Iterator[tuple[str, tuple, str | None]]:
    """Every (kind, arguments, second constraint) of ``kinds``; a second constraint is None or
    "no_comma" or "end:<phrase>"."""
    for kind in kinds:
        _, arguments, allowed = KINDS[kind]
        seconds = [None] + [m for m in allowed if m == "no_comma" and m in modifiers]
        seconds += [f"end:{p}" for p in PHRASES if "end" in allowed and "end" in modifiers]
        for args in arguments:
            for second in seconds:
                if kind == "words" and second and second.startswith("end:") and args[2] - len(second.split()) < 3:
                    continue  # too few words left before the phrase
                yield kind, args, second


def _build(kind: str, args: tuple, second: str | None, rng: random.Random) -> Item:
    phrase = second[len("end:"):] if second and second.startswith("end:") else None
    item = KINDS[kind][0](*args, len(phrase.split()) if phrase else 0, rng)
    if second == "no_comma":
        return replace(item, question=item.question + " Do not use any commas.",
                       constraints=item.constraints + (("punctuation:no_comma", {}),), plan=item.plan + "; no commas")
    if phrase is None:
        return item
    written = {"capitals": phrase.upper(), "lowercase": phrase.lower()}.get(kind, phrase)
    joiner = "\n" if kind in ("bullets", "postscript") else " "
    quoted = kind == "quotes"
    answer = f'{item.answer[:-1]}{joiner}{written}"' if quoted else f"{item.answer}{joiner}{written}"
    return replace(item, question=item.question + f" End with the phrase '{phrase}'",
                   constraints=item.constraints + (("startend:end_checker", {"end_phrase": phrase}),),
                   answer=answer, plan=item.plan + "; end phrase")


def instruction_following(n_train: int, n_eval: int, seed: int, *, kinds: Sequence[str] = tuple(KINDS),
                          train_kinds: Sequence[str] | None = None, modifiers: Sequence[str] = MODIFIERS,
                          no_think_fraction: float = 0.0, solution_format: str = SOLUTION_FORMAT,
                          ifeval_mode: str = "fraction") -> tuple[list[Prompt], list[Prompt]]:
    """Requests with 1-2 IFEval constraints (see the module docstring). ``kinds``: the kinds of request
    used; ``train_kinds``: the kinds the train split may use (default all of ``kinds``; the held-out
    split always uses all of them); ``modifiers``: the second constraints allowed ("no_comma", "end");
    ``no_think_fraction``: prompts in no_think mode, whose solution is the answer alone (0: modes unset);
    ``solution_format`` gets ``{plan}`` and ``{answer}``; ``ifeval_mode``: the verifier's scoring,
    "fraction" of constraints met or "all" of them."""
    unknown = [k for k in [*kinds, *(train_kinds or ())] if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"instruction_following: kinds must be a non-empty subset of {', '.join(KINDS)}; got {unknown or list(kinds)}")
    if train_kinds is not None and (not train_kinds or set(train_kinds) - set(kinds)):
        raise ValueError(f"instruction_following: train_kinds must be a non-empty subset of kinds; got {list(train_kinds)}")
    if set(modifiers) - set(MODIFIERS):
        raise ValueError(f"instruction_following: modifiers must be a subset of {', '.join(MODIFIERS)}; got {list(modifiers)}")
    if not 0 <= no_think_fraction <= 1:
        raise ValueError(f"instruction_following: no_think_fraction is a fraction in [0, 1], got {no_think_fraction}")
    if "{answer}" not in solution_format:
        raise ValueError(f"instruction_following: solution_format must contain {{answer}}, got {solution_format!r}")
    if ifeval_mode not in ("fraction", "all"):
        raise ValueError(f"instruction_following: ifeval_mode must be 'fraction' or 'all', got {ifeval_mode!r}")
    rng = random.Random(seed)
    problems = list(_problems(kinds, modifiers))
    rng.shuffle(problems)
    held_out = problems[:n_eval]
    train_pool = [p for p in problems[n_eval:] if p[0] in (train_kinds or kinds)]
    if n_eval > len(problems) or n_train > len(train_pool):
        raise ValueError(f"instruction_following: {n_train} + {n_eval} problems asked, but only {len(problems)} distinct "
                         f"ones exist ({len(train_pool)} left for the train split with these kinds)")
    modes = random.Random(f"modes-{seed}")

    def prompts(chosen: list) -> list[Prompt]:
        return [_prompt(p, rng, modes, no_think_fraction, solution_format, ifeval_mode) for p in chosen]
    held_out_prompts = prompts(held_out)  # first: the held-out answers depend on neither n_train nor train_kinds
    return prompts(train_pool[:n_train]), held_out_prompts


def _prompt(problem: tuple, rng: random.Random, modes: random.Random, no_think_fraction: float, solution_format: str,
            ifeval_mode: str) -> Prompt:
    kind, args, second = problem
    item = _build(kind, args, second, rng)
    fields = {"instruction_id_list": [c[0] for c in item.constraints], "kwargs": [c[1] for c in item.constraints]}
    if ifeval_mode != "fraction":
        fields["ifeval_mode"] = ifeval_mode
    mode = None
    if no_think_fraction:
        mode = NO_THINK if modes.random() < no_think_fraction else THINK
    solution = item.answer if mode == NO_THINK else solution_format.format(plan=item.plan, answer=item.answer)
    pid = "ifeval:" + ":".join([kind, *map(str, args)] + ([second] if second else []))
    return Prompt(id=pid, messages=None, text=item.question, reference="", verifier="ifeval", fields=fields,
                  solution=solution, mode=mode)
