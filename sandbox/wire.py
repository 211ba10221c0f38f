"""Plain data between the tests' process and the program's: the only thing that crosses.

Standard library only: this text is part of both runners (``container.RUNNER_SOURCE`` for the
program's process, ``container.TESTS_SOURCE`` for the tests'). Values travel as ``marshal``
bytes, which can hold only built-in values: None, bool, int, float, complex, str, bytes, tuple,
list, dict, set, frozenset (and code objects, Ellipsis and StopIteration, which ``from_wire``
refuses). A few more data types travel as a tagged tuple ``(..., name, payload)`` and are built
anew on the receiving side from the payload alone: bytearray, range, deque, Counter,
OrderedDict, defaultdict (a built-in default only), dict views, Fraction, Decimal, a handle
(an object that stays in the program's process, named by a number).

``to_wire`` runs in the sending process and may run that process's code (the program's
``__iter__``, for instance): what it produces is only data. ``from_wire`` runs in the receiving
process; it accepts exactly the shapes above, built by marshal from the bytes, and calls no
code the sender wrote, so an object of the program's cannot reach the tests: no ``__eq__``,
no subclass, no finaliser, no attribute, no view of a live dict. A copy, each time: a result
the program changes later is not the one the tests hold.
"""
import marshal
import os

_dumps, _loads, _write, _read = marshal.dumps, marshal.loads, os.write, os.read  # bound before any program runs
_SCALAR_TYPES = (type(None), bool, int, float, complex, str, bytes)
_SCALARS = frozenset(_SCALAR_TYPES)
_TAG = ...  # first item of a tagged tuple: marshal holds Ellipsis, and no plain value contains it
_MAX_FRAME = 1 << 30  # what one value may weigh on the wire; the memory limits bind first
_DEFAULT_FACTORIES = {t.__name__: t for t in (list, dict, set, int, float, str, tuple, frozenset, bool, bytes)}
_VIEWS = {type({}.keys()): "keys", type({}.values()): "values", type({}.items()): "items"}


class NotPlain(Exception):
    """A value that cannot cross the channel: the message says what it is and where it sat."""


# ---------------------------------------------------------------- sending
def to_wire(value, keep=None, where="the value"):
    """``value`` as marshal-ready built-ins. ``keep(obj)`` gives a handle number for an object
    that may stay behind (None: it may not, and ``NotPlain`` names it)."""
    return _to_wire(value, keep, where, set())


def _all_scalars(items) -> bool:
    return all(map(_SCALARS.__contains__, map(type, items)))


def _to_wire(x, keep, where, active):
    t = type(x)
    if t in _SCALARS:
        return x
    if id(x) in active:
        raise NotPlain(f"{where} contains itself")
    active.add(id(x))
    try:
        return _container(x, t, keep, where, active)
    finally:
        active.discard(id(x))


def _items(xs, keep, where, active):
    return [_to_wire(v, keep, f"{where}[{i}]", active) for i, v in enumerate(xs)]


def _pairs(d, keep, where, active):
    return [(_to_wire(k, keep, f"{where}'s key", active), _to_wire(v, keep, f"{where}'s value", active))
            for k, v in dict.items(d)]


def _container(x, t, keep, where, active):
    if t is list:
        return x if _all_scalars(x) else _items(x, keep, where, active)
    if t is tuple:
        return x if _all_scalars(x) else tuple(_items(x, keep, where, active))
    if t is dict:
        return dict(_pairs(x, keep, where, active))
    if t is set or t is frozenset:
        return t(x) if _all_scalars(x) else t(_items(x, keep, where, active))
    tagged = _tagged(x, t, keep, where, active)
    if tagged is not None:
        return tagged
    if keep is not None:
        number = keep(x)
        if number is not None:
            return (_TAG, "handle", number)
    raise NotPlain(f"{where} is of type {getattr(t, '__qualname__', '?')!s:.80}, not plain data")


def _tagged(x, t, keep, where, active):
    """Data types that are not marshal's: a tagged tuple, or a subclass as its built-in base."""
    name = getattr(t, "__qualname__", "")
    module = getattr(t, "__module__", "")
    if t is bytearray:
        return (_TAG, "bytearray", bytes(x))
    if t is range:
        return (_TAG, "range", (x.start, x.stop, x.step))
    if t in _VIEWS:
        return (_TAG, _VIEWS[t], _items(list(x), keep, where, active))
    if module == "collections" and name == "deque":
        return (_TAG, "deque", (x.maxlen, _items(list(x), keep, where, active)))
    if isinstance(x, dict):
        if module == "collections" and name in ("Counter", "OrderedDict", "defaultdict"):
            payload = _pairs(x, keep, where, active)
            if name == "defaultdict":
                factory = getattr(x.default_factory, "__name__", None)
                payload = (factory if _DEFAULT_FACTORIES.get(factory) is x.default_factory else None, payload)
            return (_TAG, name, payload)
        return dict(_pairs(x, keep, where, active))  # any other mapping subclass: its items, as a dict
    if module == "fractions" and name == "Fraction":
        return (_TAG, "Fraction", (int(x.numerator), int(x.denominator)))
    if module in ("decimal", "_decimal", "_pydecimal") and name == "Decimal":
        return (_TAG, "Decimal", str.__str__(str(x)))
    for base in (bool, int, float, complex, str, bytes):  # IntEnum, a str Enum: the value alone
        if isinstance(x, base):
            return _to_wire(base(x) if base is not int else int.__int__(x), keep, where, active)
    for base in (list, tuple, set, frozenset):  # a namedtuple: its items
        if isinstance(x, base):
            return _to_wire(base(x), keep, where, active)
    if hasattr(t, "__next__") and hasattr(t, "__iter__"):  # an iterator or generator: what it yields, as a list
        return _items(list(x), keep, where, active)
    return None


# ---------------------------------------------------------------- receiving
def from_wire(x, handle=None):
    """A value built anew from wire data; ``handle(number)`` stands in for a kept object.
    Raises ``NotPlain`` for anything else (a code object, a stray Ellipsis, a bad tag)."""
    t = type(x)
    if t in _SCALARS:
        return x
    if t is list:
        return x if _all_scalars(x) else [from_wire(v, handle) for v in x]
    if t is tuple:
        if x and x[0] is _TAG:
            return _untag(x, handle)
        return x if _all_scalars(x) else tuple(from_wire(v, handle) for v in x)
    if t is dict:
        return {from_wire(k, handle): from_wire(v, handle) for k, v in x.items()}
    if t is set or t is frozenset:
        return x if _all_scalars(x) else t(from_wire(v, handle) for v in x)
    raise NotPlain(f"a {t.__name__} on the wire")


def _checked(value, *types):
    if type(value) not in types:
        raise NotPlain(f"a tagged payload of type {type(value).__name__}")
    return value


def _untag(x, handle):
    if len(x) != 3 or type(x[1]) is not str:
        raise NotPlain("a malformed tag")
    name, payload = x[1], x[2]
    if name == "bytearray":
        return bytearray(_checked(payload, bytes))
    if name == "range":
        return range(*(_checked(v, int) for v in _checked(payload, tuple)))
    if name in ("keys", "values", "items"):
        items = from_wire(_checked(payload, list), handle)
        if name == "keys":
            return dict.fromkeys(items).keys()
        return dict(enumerate(items)).values() if name == "values" else dict(items).items()
    if name in ("Counter", "OrderedDict", "defaultdict", "deque"):
        import collections

        if name == "deque":
            maxlen, items = _checked(payload, tuple)
            return collections.deque(from_wire(_checked(items, list), handle), _checked(maxlen, int, type(None)))
        if name == "defaultdict":
            factory, payload = _checked(payload, tuple)
            factory = _DEFAULT_FACTORIES[_checked(factory, str)] if factory is not None else None
            return collections.defaultdict(factory, from_wire(_checked(payload, list), handle))
        return getattr(collections, name)(dict(from_wire(_checked(payload, list), handle)))
    if name == "Fraction":
        import fractions

        numerator, denominator = (_checked(v, int) for v in _checked(payload, tuple))
        return fractions.Fraction(numerator, denominator)
    if name == "Decimal":
        import decimal

        return decimal.Decimal(_checked(payload, str))
    if name == "handle" and handle is not None:
        return handle(_checked(payload, int))
    raise NotPlain(f"an unknown tag {name[:40]!r}")


def loads(data: bytes):
    try:
        return _loads(data)
    except Exception as exc:  # EOFError, ValueError, TypeError: all mean the same here
        raise NotPlain(f"bytes marshal cannot read ({type(exc).__name__})") from None


# ---------------------------------------------------------------- framing over pipes
def send(fd: int, value) -> None:
    """One frame: an 8-byte length, then marshal bytes."""
    data = _dumps(value)
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[_write(fd, view):]


def receive(fd: int) -> bytes | None:
    """The next frame's bytes, or None at end of file (the other side is gone)."""
    head = _read_exactly(fd, 8)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > _MAX_FRAME:
        raise NotPlain(f"a frame of {size} bytes")
    return _read_exactly(fd, size)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = _read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
