"""A name -> function table with a registering decorator, shared by the algorithm variants.

Each variant family (advantage estimators, loss aggregations) owns one ``Registry``; the
training loop resolves a name from its config once with ``get`` and calls the function.
"""
from __future__ import annotations

from typing import Callable, Generic, TypeVar

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
    def __init__(self, kind: str):
        self.kind = kind  # what the entries are, for error messages: "advantage estimator"
        self._entries: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        def decorate(fn: F) -> F:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered ({self._entries[name].__qualname__})")
            self._entries[name] = fn
            return fn

        return decorate

    def get(self, name: str) -> F:
        # ValueError, not KeyError: the name comes from a config file, and KeyError would quote the message.
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
