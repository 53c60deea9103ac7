"""Values from URLs, query strings and forms, read strictly: a 400 in pt-BR for garbage.

Werkzeug's `type=int` and `<int:...>` take any Unicode digit ('١٢' is 12, '²' breaks later)
and any size (an id past 64 bits reaches the database as an error, a 500); `type=int` also
turns a value that does not parse into the default without a word. Every route reads its
numbers, dates, choices and free text through these helpers instead: ASCII digits only,
bounded, and a `{"error": ..., "status": 400}` (or the HTML error page) saying what is wrong.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from typing import Any

from flask import Flask, abort, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

# A signed BIGINT: the widest id column (and what SQLite's driver can bind).
MAX_ID = 2**63 - 1
INTEGER = re.compile(r"-?[0-9]{1,19}")
DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def strict_int(raw: str) -> int | None:
    """Return the integer `raw` spells in ASCII digits (an optional leading minus, at most 19
    digits), or None: int() would also take '١', ' 7', '+7' and '1_000'."""
    return int(raw) if INTEGER.fullmatch(raw) else None


def _shown(raw: str) -> str:
    return repr(raw[:40])


def int_value(name: str, raw: str, minimum: int, maximum: int, status: int = 400) -> int:
    """Return `raw` as an integer within [minimum, maximum], or abort saying what is wrong."""
    value = strict_int(raw)
    if value is None:
        abort(status, description=f"Parâmetro '{name}' deve ser um número inteiro (recebido: {_shown(raw)}).")
    if value < minimum:
        abort(status, description=f"Parâmetro '{name}' deve ser no mínimo {minimum}.")
    if value > maximum:
        abort(status, description=f"Parâmetro '{name}' deve ser no máximo {maximum}.")
    return value


def int_arg(name: str, default: int, minimum: int, maximum: int, status: int = 400) -> int:
    """Read an integer query parameter (absent or empty: the default), or abort."""
    raw = request.args.get(name)
    return default if raw is None or raw == "" else int_value(name, raw, minimum, maximum, status)


def positive_number_arg(name: str, default: float, maximum: float) -> float:
    """Read a decimal query parameter above 0 and at most `maximum` ('1.5'; no 'nan', '1e3')."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = float(raw) if DECIMAL.fullmatch(raw) else None
    if value is None or not 0 < value <= maximum:
        abort(400, description=(f"Parâmetro '{name}' deve ser um número maior que 0 e até "
                                f"{maximum:g}, com ponto decimal (recebido: {_shown(raw)})."))
    return value


def date_arg(name: str) -> date | None:
    """Read a date query parameter written AAAA-MM-DD (absent or empty: None), or abort."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        if ISO_DATE.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    abort(400, description=f"Parâmetro '{name}' deve ser uma data AAAA-MM-DD (recebido: {_shown(raw)}).")


def choice_arg(name: str, default: Any, choices: Collection[Any]) -> Any:
    """Read a query parameter that must be one of `choices` (compared as text), or abort."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    for choice in choices:
        if raw == str(choice):
            return choice
    abort(400, description=(f"Parâmetro '{name}' inválido: {_shown(raw)}. "
                            f"Use: {', '.join(str(c) for c in choices)}."))


def text_value(name: str, raw: str, max_chars: int) -> str:
    """Return `raw` stripped, or abort when it is longer than `max_chars` or holds control
    characters (free text for searches and keys, never markup or line breaks)."""
    text = raw.strip()
    if len(text) > max_chars or not text.isprintable():
        abort(400, description=(f"Parâmetro '{name}' inválido: até {max_chars} caracteres, "
                                "sem caracteres de controle."))
    return text


def text_arg(name: str, max_chars: int, default: str = "") -> str:
    """Read a free-text query parameter (stripped; absent: the default), or abort."""
    raw = request.args.get(name)
    return default if raw is None else text_value(name, raw, max_chars)


class IdConverter(BaseConverter):
    """`<int:name>` in this app: a row id in ASCII digits, 1 to MAX_ID, else a 400 in pt-BR.

    It takes the whole path segment, so that '/x/abc' is told it is not an id instead of not
    found: do not put another variable rule beside an `<int:...>` one.
    """

    weight = 50  # Werkzeug's own integer converter's: static segments still win

    def to_python(self, value: str) -> int:
        number = strict_int(value)
        if number is None or not 1 <= number <= MAX_ID:
            raise BadRequest(description=(f"Identificador inválido na URL: {_shown(value)} "
                                          "(use um número inteiro positivo, com os dígitos 0 a 9)."))
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def init_params(app: Flask) -> None:
    """Make `<int:...>` in every rule of the app the strict id converter (before any rule)."""
    app.url_map.converters["int"] = IdConverter
