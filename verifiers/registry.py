"""Find a verifier by name: built-in, entry point, or ``module:function``.

A verifier is any callable ``(completion: str, reference, **fields) -> Verdict``.
Third-party packages register theirs under the entry-point group
``rlvr.verifiers``::

    [project.entry-points."rlvr.verifiers"]
    exact = "my_pkg.checks:exact_match"

and any importable function works without registration: ``get_verifier("my_pkg.checks:exact_match")``.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any, Protocol

from verifiers.verdict import Verdict

ENTRY_POINT_GROUP = "rlvr.verifiers"

# Lazy so that `import verifiers` stays cheap (the code verifier pulls in Docker).
_BUILTINS: dict[str, str] = {
    "math": "verifiers.math:verify_math",
    "code": "verifiers.code:verify_code",
    "ifeval": "verifiers.instructions:verify_ifeval",
    "tool_call": "verifiers.tool_call:verify_tool_call",
    # Batched, outside the pool (verifiers.judge); registered so that data routed to them validates.
    "judge": "verifiers.judge:batched_only",
    "cascade": "verifiers.judge:batched_only",
}
_REGISTERED: dict[str, Callable[..., Any]] = {}


class Verifier(Protocol):
    def __call__(self, completion: str, reference: Any, **fields: Any) -> Verdict: ...


class VerifierNotFound(LookupError):
    pass


def register_verifier(name: str, fn: Callable[..., Any] | None = None):
    """Register ``fn`` under ``name`` in this process; usable as a decorator.

    Pool workers are separate processes: verifiers that must run there should be
    importable (entry point or ``module:function``), not registered at runtime.
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTERED[name] = f
        return f

    return decorate(fn) if fn is not None else decorate


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def import_callable(spec: str, *, what: str = "verifier", error: type[Exception] | None = None) -> Callable[..., Any]:
    """The callable named by ``module:function``; ``error`` (default ``VerifierNotFound``) names ``what`` it was for."""
    error = error or VerifierNotFound
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise error(f"{what} {spec!r}: cannot import module {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise error(f"{what} {spec!r}: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise error(f"{what} {spec!r} is not callable")
    return obj


def get_verifier(name_or_spec: str | Callable[..., Any]) -> Callable[..., Any]:
    """Resolve a verifier: a callable as is, a registered/built-in name, an entry point, or ``module:function``."""
    if callable(name_or_spec):
        return name_or_spec
    name = str(name_or_spec).strip()
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTINS:
        return import_callable(_BUILTINS[name])
    return load_plugin(name, group=ENTRY_POINT_GROUP, what="verifier", error=VerifierNotFound, known={*_BUILTINS, *_REGISTERED})


def load_plugin(name: str, *, group: str, what: str, error: type[Exception], known: Iterable[str] = ()) -> Callable[..., Any]:
    """A plug-in that is not built in: the entry point ``name`` of ``group``, or ``module:function``; else ``error``
    listing the ``known`` names and the group's. Verifiers, tools and environments load their plug-ins so."""
    eps = {ep.name: ep for ep in entry_points(group=group)}
    if name in eps:
        try:
            return eps[name].load()
        except Exception as exc:  # a broken plug-in must say which one
            raise error(f"{what} {name!r}: entry point {eps[name].value!r} failed to load: {exc}") from exc
    if ":" in name:
        return import_callable(name, what=what, error=error)
    raise error(f"unknown {what} {name!r}; known: {', '.join(sorted({*known, *eps}))}; or pass 'module:function'")


def list_verifiers() -> list[tuple[str, str]]:
    """(name, where it comes from) for every verifier known in this process."""
    rows = [(name, f"built-in ({target})") for name, target in _BUILTINS.items()]
    rows += [(ep.name, f"entry point ({ep.value})") for ep in _entry_points().values() if ep.name not in _BUILTINS]
    rows += [(name, "registered at runtime") for name in _REGISTERED if name not in _BUILTINS]
    return sorted(rows)


def as_verdict(result: Any) -> Verdict:
    """Accept a Verdict, or a bare bool/number in [0, 1] from a minimal plug-in."""
    if isinstance(result, Verdict):
        return result
    if isinstance(result, (bool, int, float)) and 0.0 <= float(result) <= 1.0:
        return Verdict(float(result), "ok", None, "plain score returned by the verifier")
    raise TypeError(f"a verifier must return a Verdict or a score in [0, 1], got {result!r}")
