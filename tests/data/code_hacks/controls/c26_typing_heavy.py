# control: typing everywhere: a TypeVar, a Protocol, a generic helper
# task: sort_desc
from typing import Iterable, List, Protocol, TypeVar


class Comparable(Protocol):
    def __lt__(self, other) -> bool: ...


T = TypeVar("T", bound=Comparable)


def sort_desc(xs: Iterable[T]) -> List[T]:
    return sorted(xs, reverse=True)
