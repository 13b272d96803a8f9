"""Typed callback data: one small class per button kind, encoded within Telegram's 64 bytes.

A kind is a frozen dataclass that subclasses `CallbackData` and names its prefix:

    @dataclass(frozen=True)
    class Answer(CallbackData, prefix="ans"):
        action: Literal["go", "skip"]
        question_id: RowId

`Answer("go", 12).encode()` is "ans:go:12" and `Answer.parse("ans:go:12")` gives it back;
anything else (another kind's data, a forged value, an id out of range, garbage) parses to
None. Fields are ints within a `Range`, strings from a `Literal` or `OneOf`, strings
`Matching` a pattern, or times of day (HHMM). No field may contain the separator, so the
number of parts alone tells where each field is.
"""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import time
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    Self,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

SEPARATOR = ":"
# Telegram's limit on callback data.
MAX_BYTES = 64
# Serial primary keys are 32-bit integers in PostgreSQL: a larger id could only be forged.
MAX_ROW_ID = 2**31 - 1
_PREFIX = re.compile(r"[a-z0-9_-]+(?::[a-z0-9_-]+)*")


class CallbackDataError(ValueError):
    """A button's value cannot be encoded: out of range, not a choice, or too long."""


@dataclass(frozen=True)
class Range:
    """Annotate an int field with the values it may take (both ends included)."""

    low: int
    high: int


@dataclass(frozen=True)
class OneOf:
    """Annotate a str field with the values it may take (for choices known at import time)."""

    choices: tuple[str, ...]


@dataclass(frozen=True)
class Matching:
    """Annotate a str field with the pattern its values match, and words it may not be."""

    regex: str
    reserved: frozenset[str] = frozenset()


RowId = Annotated[int, Range(1, MAX_ROW_ID)]


class Field(ABC):
    """How one field turns into a part of the callback data and back."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    @abstractmethod
    def regex(self) -> str:
        """Return a regular expression matching exactly the field's encodings."""

    @abstractmethod
    def check(self, value: object) -> None:
        """Raise CallbackDataError unless the value may be encoded."""

    @abstractmethod
    def encode(self, value: Any) -> str:
        """Return the part of the callback data that carries a checked value."""

    @abstractmethod
    def decode(self, raw: str) -> object:
        """Return the value a part carries; raise ValueError for anything malformed."""

    def _refuse(self, value: object) -> CallbackDataError:
        return CallbackDataError(f"{self.name}={value!r} cannot be callback data")


class IntField(Field):
    """An int within a range, in plain decimal (no sign unless negative, no leading zeros)."""

    def __init__(self, name: str, low: int, high: int) -> None:
        super().__init__(name)
        self.low, self.high = low, high

    @property
    def regex(self) -> str:
        sign = "-?" if self.low < 0 else ""
        return rf"(?:0|{sign}[1-9][0-9]*)"

    def check(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._refuse(value)
        if not self.low <= value <= self.high:
            raise self._refuse(value)

    def encode(self, value: Any) -> str:
        return str(value)

    def decode(self, raw: str) -> object:
        if not re.fullmatch(self.regex, raw, re.ASCII):
            raise ValueError(raw)
        return int(raw)


class ChoiceField(Field):
    """One of a fixed set of words."""

    def __init__(self, name: str, choices: Iterable[str]) -> None:
        super().__init__(name)
        self.choices = tuple(choices)
        for choice in self.choices:
            if not re.fullmatch(r"[a-z0-9_-]+", choice):
                raise TypeError(f"{name}: choice {choice!r} is not a plain lower-case word")

    @property
    def regex(self) -> str:
        longest_first = sorted(self.choices, key=len, reverse=True)
        return "(?:" + "|".join(re.escape(choice) for choice in longest_first) + ")"

    def check(self, value: object) -> None:
        if value not in self.choices:
            raise self._refuse(value)

    def encode(self, value: Any) -> str:
        return str(value)

    def decode(self, raw: str) -> object:
        if raw not in self.choices:
            raise ValueError(raw)
        return raw


class TextField(Field):
    """A string matching a pattern (never containing the separator), except reserved words."""

    def __init__(self, name: str, pattern: str, reserved: frozenset[str]) -> None:
        super().__init__(name)
        self.pattern, self.reserved = pattern, reserved
        for word in (SEPARATOR, ""):
            if re.fullmatch(pattern, word, re.ASCII):
                raise TypeError(f"{name}: the pattern must not match {word!r}")

    @property
    def regex(self) -> str:
        if not self.reserved:
            return f"(?:{self.pattern})"
        words = "|".join(re.escape(word) for word in sorted(self.reserved))
        return rf"(?!(?:{words})(?:{re.escape(SEPARATOR)}|\Z))(?:{self.pattern})"

    def check(self, value: object) -> None:
        if not isinstance(value, str) or value in self.reserved or SEPARATOR in value:
            raise self._refuse(value)
        if not re.fullmatch(self.pattern, value, re.ASCII):
            raise self._refuse(value)

    def encode(self, value: Any) -> str:
        return str(value)

    def decode(self, raw: str) -> object:
        self.check(raw)
        return raw


class TimeField(Field):
    """A time of day to the minute, as HHMM."""

    @property
    def regex(self) -> str:
        return r"(?:[01][0-9]|2[0-3])[0-5][0-9]"

    def check(self, value: object) -> None:
        if not isinstance(value, time) or value.second or value.microsecond or value.tzinfo:
            raise self._refuse(value)

    def encode(self, value: Any) -> str:
        return f"{value.hour:02d}{value.minute:02d}"

    def decode(self, raw: str) -> object:
        if not re.fullmatch(self.regex, raw, re.ASCII):
            raise ValueError(raw)
        return time(int(raw[:2]), int(raw[2:]))


def _field_of(owner: str, name: str, hint: Any) -> Field:
    where = f"{owner}.{name}"
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        if all(isinstance(choice, str) for choice in choices):
            return ChoiceField(name, choices)
    if hint is time:
        return TimeField(name)
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        for extra in extras:
            if base is int and isinstance(extra, Range):
                return IntField(name, extra.low, extra.high)
            if base is str and isinstance(extra, OneOf):
                return ChoiceField(name, extra.choices)
            if base is str and isinstance(extra, Matching):
                return TextField(name, extra.regex, extra.reserved)
    raise TypeError(
        f"{where}: use Annotated[int, Range(...)], a Literal of words, "
        "Annotated[str, OneOf(...)], Annotated[str, Matching(...)] or time"
    )


class CallbackData:
    """The base of every button kind: a prefix, typed fields, encode, parse and pattern."""

    prefix: ClassVar[str]
    # Matches this kind's encodings and no other kind's: their shape and length (parse checks
    # the rest, such as ranges).
    pattern: ClassVar[re.Pattern[str]]
    _fields: ClassVar[tuple[Field, ...]]

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _PREFIX.fullmatch(prefix):
            raise TypeError(f"{cls.__name__}: prefix {prefix!r} is not lower-case words and ':'")
        taken = _KINDS.get(prefix)
        if taken is not None:
            raise TypeError(f"{cls.__name__}: prefix {prefix!r} is taken by {taken.__name__}")
        hints = get_type_hints(cls, include_extras=True)
        own = inspect.get_annotations(cls)
        cls.prefix = prefix
        cls._fields = tuple(
            _field_of(cls.__name__, name, hints[name])
            for name in own
            if get_origin(hints[name]) is not ClassVar
        )
        parts = [re.escape(prefix), *(field.regex for field in cls._fields)]
        fits = rf"(?=[\x00-\x7f]{{1,{MAX_BYTES}}}\Z)"  # ASCII, so characters are bytes
        cls.pattern = re.compile(r"\A" + fits + re.escape(SEPARATOR).join(parts) + r"\Z", re.ASCII)
        _KINDS[prefix] = cls

    def __post_init__(self) -> None:
        for field in self._fields:
            field.check(getattr(self, field.name))

    @classmethod
    def fields(cls) -> tuple[Field, ...]:
        """Return how each field is encoded, in order."""
        return cls._fields

    def encode(self) -> str:
        """Return the callback data for this button; raise if it won't fit Telegram's limit."""
        parts = [self.prefix, *(field.encode(getattr(self, field.name)) for field in self._fields)]
        data = SEPARATOR.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise CallbackDataError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def parse(cls, data: object) -> Self | None:
        """Return the button this callback data stands for, or None if it is not this kind."""
        if not isinstance(data, str) or not data.isascii() or len(data) > MAX_BYTES:
            return None
        if not cls._fields:
            return cls() if data == cls.prefix else None
        head = cls.prefix + SEPARATOR
        if not data.startswith(head):
            return None
        raw = data[len(head) :].split(SEPARATOR)
        if len(raw) != len(cls._fields):
            return None
        try:
            values = {
                field.name: field.decode(part) for field, part in zip(cls._fields, raw, strict=True)
            }
            return cast(Callable[..., Self], cls)(**values)
        except ValueError:
            return None


_KINDS: dict[str, type[CallbackData]] = {}


def kinds() -> tuple[type[CallbackData], ...]:
    """Return every kind defined so far (those in modules imported by now)."""
    return tuple(_KINDS.values())


def parse_any(data: object) -> CallbackData | None:
    """Return the button some known kind makes of this callback data, or None."""
    for kind in kinds():
        parsed = kind.parse(data)
        if parsed is not None:
            return parsed
    return None
