"""A function-calling task a tiny model can learn: pick the right function, fill its arguments from the request.

    train, held_out = function_calling(2000, 100, seed=0)                 # judged by the ``tool_call`` verifier
    cold, _ = function_calling(2000, 100, seed=0, wordings=2)             # the cold start sees 2 wordings per function

Each prompt lists one to three small functions compactly and asks for something one of them (or two
of them, in parallel) does::

    Functions: get_weather(city: str, unit: str = celsius); set_alarm(hour: int, minute: int).
    Request: weather in Paris in fahrenheit

The reference is BFCL's possible answer as JSON (``[{"get_weather": {"city": ["Paris"], "unit":
["fahrenheit"]}}]``; an argument the request leaves to its default accepts ``""``), the verifier is
``tool_call`` and ``fields["functions"]`` the listed functions' documentation in BFCL's format. The
solution is the ``<tool_call>`` blocks, after a one-line ``<think>`` plan (the ``arithmetic`` task's
think-block style) or, for a ``no_think_fraction`` of the prompts, alone (mode ``no_think``, as
``tool_arithmetic`` answers). ``wordings`` limits the train split to the first few wordings of each
request, so that RL has wordings left to learn; the held-out split uses all of them. A request is its
calls (function and argument values): no held-out request appears in the train split, in any wording.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from rl.data.records import Prompt
from rl.modes import NO_THINK, THINK

CITIES = ("Paris", "Rome", "Oslo", "Tokyo", "Lima", "Cairo", "Berlin", "Madrid", "Dublin", "Seoul", "New York", "Sydney")
UNITS = ("km", "miles", "kg", "lb", "m", "feet")
UNIT_PAIRS = (("km", "miles"), ("miles", "km"), ("kg", "lb"), ("lb", "kg"), ("m", "feet"), ("feet", "m"))
NAMES = ("Ann", "Ben", "Mia", "Tom", "Eva", "Sam", "Lea", "Max")
TEXTS = ("dinner is ready", "call me back", "I am late", "see you soon", "happy birthday", "meeting moved", "on my way",
         "thanks")


@dataclass(frozen=True)
class Function:
    """One callable function: its one-line signature for the prompt, and BFCL's documentation of it."""

    name: str
    signature: str
    doc: dict


def _doc(name: str, description: str, params: dict[str, str], required: list[str]) -> dict:
    return {"name": name, "description": description,
            "parameters": {"type": "dict", "properties": {k: {"type": t} for k, t in params.items()}, "required": required}}


FUNCTIONS = {f.name: f for f in (
    Function("get_weather", "get_weather(city: str, unit: str = celsius)",
             _doc("get_weather", "Current weather in a city.", {"city": "string", "unit": "string"}, ["city"])),
    Function("convert", "convert(amount: float, from_unit: str, to_unit: str)",
             _doc("convert", "Convert an amount between units.",
                  {"amount": "float", "from_unit": "string", "to_unit": "string"}, ["amount", "from_unit", "to_unit"])),
    Function("set_alarm", "set_alarm(hour: int, minute: int)",
             _doc("set_alarm", "Set an alarm (24-hour clock).", {"hour": "integer", "minute": "integer"}, ["hour", "minute"])),
    Function("send_message", "send_message(to: str, text: str)",
             _doc("send_message", "Send a text message.", {"to": "string", "text": "string"}, ["to", "text"])),
)}

# Per function, the ways a request is worded; the first ones are what a limited cold start sees.
# Arguments appear in the order the call writes them in the first two wordings of each, so the
# later wordings (reordered, clipped) are what RL is left to learn.
WORDINGS: dict[str, tuple[str, ...]] = {
    "get_weather": ("weather in {city}{in_unit}", "what is the weather in {city}{in_unit}?",
                    "is it cold in {city} now{in_unit}?", "{city} forecast{in_unit}"),
    "convert": ("convert {amount} {from_unit} to {to_unit}", "how many {to_unit} is {amount} {from_unit}?",
                "{amount} {from_unit} in {to_unit}", "change {amount} {from_unit} into {to_unit}"),
    "set_alarm": ("set an alarm for {hour}:{minute:02d}", "wake me at {hour}:{minute:02d}",
                  "alarm at {minute} past {hour}", "I need to be up at {hour}:{minute:02d}"),
    "send_message": ("tell {to} that {text}", "send {to} the message: {text}", "message {to}: {text}",
                     "let {to} know {text}"),
}
MAX_WORDINGS = min(len(w) for w in WORDINGS.values())

Call = tuple[str, tuple[tuple[str, object], ...]]  # (function, ((argument, value), ...)): what a request asks


def _draw_call(name: str, rng: random.Random) -> Call:
    """One request's call, with only the arguments the request states (a default left out)."""
    draw: dict[str, Callable[[], dict]] = {
        "get_weather": lambda: {"city": rng.choice(CITIES), **({"unit": u} if (u := rng.choice(("", "celsius", "fahrenheit"))) else {})},
        "convert": lambda: dict(zip(("amount", "from_unit", "to_unit"), (rng.randint(1, 999), *rng.choice(UNIT_PAIRS)))),
        "set_alarm": lambda: {"hour": rng.randint(0, 23), "minute": rng.randrange(60)},
        "send_message": lambda: {"to": rng.choice(NAMES), "text": rng.choice(TEXTS)},
    }
    return name, tuple(draw[name]().items())


def request_text(call: Call, wording: int) -> str:
    name, args = call
    values = dict(args)
    if name == "get_weather":
        values["in_unit"] = f" in {values['unit']}" if "unit" in values else ""
    return WORDINGS[name][wording].format(**values)


def possible_answer(call: Call) -> dict:
    """BFCL's possible answer for one call: each stated value accepted; an unstated default optional."""
    name, args = call
    accepted = {k: [float(v)] if k == "amount" else [v] for k, v in args}
    if name == "get_weather" and accepted.get("unit", ["celsius"]) == ["celsius"]:
        accepted["unit"] = ["celsius", ""]  # the default: saying it or leaving it out is the same call
    return {name: accepted}


def call_block(call: Call) -> str:
    name, args = call
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": dict(args)}) + "\n</tool_call>"


def function_calling(n_train: int, n_eval: int, seed: int, *, parallel: float = 0.25, max_functions: int = 3,
                     wordings: int = MAX_WORDINGS, no_think_fraction: float = 0.0) -> tuple[list[Prompt], list[Prompt]]:
    """Function-calling prompts (module docstring). ``parallel``: the fraction of requests that need two
    calls; ``max_functions``: at most this many functions listed per prompt (the needed ones, then
    distractors); ``wordings``: the train split's requests use only the first ``wordings`` wordings
    of each function; ``no_think_fraction``: prompts whose solution is the calls alone (mode no_think)."""
    if not 0 <= parallel <= 1 or not 0 <= no_think_fraction <= 1:
        raise ValueError(f"function_calling: parallel and no_think_fraction are fractions in [0, 1], got "
                         f"{parallel}, {no_think_fraction}")
    if not 2 <= max_functions <= len(FUNCTIONS):
        raise ValueError(f"function_calling: max_functions must be in 2..{len(FUNCTIONS)}, got {max_functions}")
    if not 1 <= wordings <= MAX_WORDINGS:
        raise ValueError(f"function_calling: wordings must be in 1..{MAX_WORDINGS}, got {wordings}")
    rng = random.Random(seed)
    seen: set[tuple[Call, ...]] = set()  # requests as sorted calls: "A and B" is the request "B and A"
    requests: list[tuple[Call, ...]] = []
    for _ in range(n_train + n_eval):
        # The number of calls is drawn once per request, so that `parallel` holds however many
        # single-call requests are used up (a weather request has only 36 forms).
        n_calls = 2 if rng.random() < parallel else 1
        for _attempt in range(1000):
            calls = tuple(_draw_call(rng.choice(sorted(FUNCTIONS)), rng) for _ in range(n_calls))
            key = tuple(sorted(calls, key=repr))
            if len(set(calls)) == n_calls and key not in seen:  # two calls: two different requests
                break
        else:
            raise ValueError(f"function_calling: no new {n_calls}-call request after {len(requests)}; ask for fewer")
        seen.add(key)
        requests.append(calls)
    modes = random.Random(f"modes-{seed}")  # their own stream: the requests are the same whatever the fraction
    prompts = []
    for i, calls in enumerate(requests):
        held_out = i < n_eval
        listed = _listed_functions(calls, max_functions, rng)
        wording = [rng.randrange(MAX_WORDINGS if held_out else wordings) for _ in calls]
        no_think = modes.random() < no_think_fraction
        pid = f"function-calling-eval-{i}" if held_out else f"function-calling-{i - n_eval}"
        prompts.append(_prompt(pid, calls, listed, wording, no_think, bool(no_think_fraction)))
    return prompts[n_eval:], prompts[:n_eval]


def _listed_functions(calls: tuple[Call, ...], max_functions: int, rng: random.Random) -> list[str]:
    needed = list(dict.fromkeys(name for name, _ in calls))  # a function called twice is listed once
    others = [name for name in sorted(FUNCTIONS) if name not in needed]
    listed = needed + rng.sample(others, rng.randint(0, max_functions - len(needed)))
    rng.shuffle(listed)
    return listed


def _prompt(pid: str, calls: tuple[Call, ...], listed: list[str], wording: list[int], no_think: bool,
            set_mode: bool) -> Prompt:
    request = " and ".join(request_text(call, w) for call, w in zip(calls, wording))
    text = f"Functions: {'; '.join(FUNCTIONS[n].signature for n in listed)}.\nRequest: {request}"
    blocks = "\n".join(call_block(call) for call in calls)
    plan = "; ".join(f"{name} " + " ".join(f"{k}={v}" for k, v in args) for name, args in calls)
    return Prompt(
        id=pid, messages=None, text=text,
        reference=json.dumps([possible_answer(call) for call in calls]),
        verifier="tool_call",
        fields={"functions": [FUNCTIONS[n].doc for n in listed]},
        solution=blocks if no_think else f"<think>{plan}</think>\n{blocks}",
        mode=(NO_THINK if no_think else THINK) if set_mode else None,
    )
