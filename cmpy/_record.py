"""Small frozen, slotted record classes, declared like dataclasses.

``dataclasses`` imports ``inspect`` (with ``ast``, ``dis`` and ``tokenize``),
which costs a command-line call of cmpy about a fifth of its whole time.
cmpy's records need little of it: named fields with defaults, ``__slots__``,
equality, hashing, a readable ``repr``, immutability and pickling. This
module gives exactly that, and tells type checkers (PEP 681) that a
:class:`Record` subclass behaves like a dataclass.

    class Point(Record):
        x: int
        y: int = 0
        tags: list[str] = field(default_factory=list)

    class Mutable(Record, frozen=False, kw_only=True):
        ...
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar, dataclass_transform

    R = TypeVar("R", bound="Record")
else:

    def dataclass_transform(**_: object) -> Callable[[object], object]:
        return lambda cls: cls


__all__ = ["FrozenInstanceError", "Record", "field", "fields", "replace"]

class FrozenInstanceError(AttributeError):
    """An attempt to change a field of a frozen record."""


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], Any]) -> Any:
    """A field whose default is made fresh for each record (``default_factory()``)."""
    return _Factory(default_factory)


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The field names of a record class or instance, in declaration order."""
    return type(record).__record_fields__ if isinstance(record, Record) else record.__record_fields__


def replace(record: R, /, **changes: Any) -> R:
    """A copy of ``record`` with some fields changed."""
    values = {name: getattr(record, name) for name in record.__record_fields__}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    new = object.__new__(type(record))
    for name, value in values.items():
        object.__setattr__(new, name, value)
    return new


def _frozen_setattr(self: Record, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def _frozen_delattr(self: Record, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")


def _hash(self: Record) -> int:
    return hash((self.__class__, self._values()))


def _make_init(
    names: tuple[str, ...], defaults: dict[str, Any], kw_only: bool, module: str
) -> Callable[..., None]:
    """An ``__init__`` made from source, as ``dataclasses`` and ``namedtuple`` do."""
    params = []
    body = []
    scope: dict[str, Any] = {"_set": object.__setattr__}
    seen_default = False
    for name in names:
        if name in defaults:
            seen_default = True
            default = defaults[name]
            if isinstance(default, _Factory):
                scope[f"_factory_{name}"] = default.make
                scope["_MISSING"] = _MISSING
                params.append(f"{name}=_MISSING")
                body.append(f"_set(self, {name!r}, _factory_{name}() if {name} is _MISSING else {name})")
                continue
            scope[f"_default_{name}"] = default
            params.append(f"{name}=_default_{name}")
        else:
            if seen_default and not kw_only:
                raise TypeError(f"field {name!r} without a default follows a field with one")
            params.append(name)
        body.append(f"_set(self, {name!r}, {name})")
    star = "*, " if kw_only and params else ""
    source = f"def __init__(self, {star}{', '.join(params)}):\n"
    source += "".join(f"    {line}\n" for line in body) or "    pass\n"
    exec(compile(source, f"<record {module}>", "exec"), scope)
    init: Callable[..., None] = scope["__init__"]
    return init


_MISSING = object()


def _lazy_init(
    cls: type, names: tuple[str, ...], defaults: dict[str, Any], kw_only: bool
) -> Callable[..., None]:
    """An ``__init__`` that compiles the real one on its first call.

    Compiling an ``__init__`` per record class costs start-up time for classes
    a command may never instantiate.
    """
    if not kw_only:  # a field without a default after one with: an error now, not later
        seen_default = False
        for name in names:
            if name in defaults:
                seen_default = True
            elif seen_default:
                raise TypeError(f"field {name!r} without a default follows a field with one")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        real = _make_init(names, defaults, kw_only, cls.__module__)
        cls.__init__ = real  # type: ignore[misc]
        real(self, *args, **kwargs)

    return __init__


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class _RecordMeta(type):
    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        *,
        frozen: bool = True,
        kw_only: bool = False,
        **kwargs: Any,
    ) -> _RecordMeta:
        annotations = namespace.get("__annotations__", {})
        names = tuple(
            n for n, a in annotations.items() if not str(a).startswith(("ClassVar", "typing.ClassVar"))
        )
        inherited: tuple[str, ...] = ()
        for base in bases:
            inherited += getattr(base, "__record_fields__", ())
        all_names = inherited + names
        defaults: dict[str, Any] = {}
        for base in bases:
            defaults.update(getattr(base, "__record_defaults__", {}))
        for n in names:
            if n in namespace:
                defaults[n] = namespace.pop(n)
        namespace["__slots__"] = names
        namespace["__record_fields__"] = all_names
        namespace["__record_defaults__"] = defaults
        namespace["__match_args__"] = all_names
        make_init = "__init__" not in namespace and bool(names)
        # set on every class, so that a mutable record never inherits a frozen
        # base's guards (nor a frozen one a mutable base's missing hash)
        if frozen:
            namespace.setdefault("__setattr__", _frozen_setattr)
            namespace.setdefault("__delattr__", _frozen_delattr)
            namespace.setdefault("__hash__", _hash)
        else:
            namespace.setdefault("__setattr__", object.__setattr__)
            namespace.setdefault("__delattr__", object.__delattr__)
            namespace.setdefault("__hash__", None)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if make_init:
            cls.__init__ = _lazy_init(cls, all_names, defaults, kw_only)  # type: ignore[misc]
        return cls


class Record(metaclass=_RecordMeta):
    """Base of cmpy's records: fields from annotations, frozen unless ``frozen=False``."""

    __slots__ = ()
    __record_fields__: ClassVar[tuple[str, ...]] = ()
    __record_defaults__: ClassVar[dict[str, Any]] = {}

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.__record_fields__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n, '<unset>')!r}" for n in self.__record_fields__)
        return f"{type(self).__qualname__}({args})"

    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__record_fields__, state):
            object.__setattr__(self, name, value)
