"""What the sync needs to know about each Consinco view: its reading key and change watermark."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Table

from core.sync.consinco.models import (
    ConsincoBase,
    ConsincoCliente,
    ConsincoFilial,
    ConsincoProduto,
    ConsincoVenda,
)


@dataclass(frozen=True)
class SourceEntity:
    """A view read in key order; `watermark` names the column telling what changed when."""

    name: str
    model: type[ConsincoBase]
    key: tuple[str, ...]
    watermark: str | None
    # A DATE watermark (sales day) only counts closed days: today's sales are still arriving.
    watermark_by_day: bool = False

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[return-value]

    @property
    def key_columns(self) -> list[Column[Any]]:
        return [self.table.c[name] for name in self.key]

    @property
    def watermark_column(self) -> Column[Any] | None:
        return self.table.c[self.watermark] if self.watermark else None


# The order matters: vendas refer to filiais, produtos and clientes, so they go last.
ENTITIES: dict[str, SourceEntity] = {
    "filiais": SourceEntity("filiais", ConsincoFilial, ("IDFILIAL",), "DTAALTERACAO"),
    "produtos": SourceEntity("produtos", ConsincoProduto, ("IDPRODUTO",), "DTAALTERACAO"),
    "clientes": SourceEntity("clientes", ConsincoCliente, ("IDPESSOA",), "DTAALTERACAO"),
    "vendas": SourceEntity("vendas", ConsincoVenda, ("DATVENDA", "IDFILIAL", "IDCUPOM", "IDPRODUTO"),
                           "DATVENDA", watermark_by_day=True),
}

# Source entities whose rows are people's personal data (CPF, phone, birth date, e-mail): only
# those with the dados_pessoais permission read them (the source API, dry-run samples).
PERSONAL_DATA_ENTITIES = frozenset({"clientes"})



def get_entity(name: str) -> SourceEntity:
    """Return the entity called `name`; KeyError names the known ones."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"entidade desconhecida: {name!r} (use {', '.join(ENTITIES)})") from None


def to_json(value: Any) -> Any:
    """Return a key or watermark value as JSON (dates as ISO text)."""
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def from_json(column: Column[Any] | None, value: Any) -> Any:
    """Return a JSON key or watermark value as the column's Python type."""
    if value is None or column is None:
        return value
    python_type = column.type.python_type
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    return value


def key_text(key: Sequence[Any]) -> str:
    """Return a row key as canonical JSON text ('["2025-01-01",3,123,1001]'): how the sent
    rows and the rejections name a row. Spelled by hand for ints and dates, the common key
    columns: json.dumps per row cost a tenth of a sync's time."""
    return "[" + ",".join(map(_key_json, key)) + "]"


def _key_json(value: Any) -> str:
    if type(value) is int:
        return str(value)
    if isinstance(value, (date, datetime)):
        return f'"{value.isoformat()}"'
    return json.dumps(value, ensure_ascii=False)


def parse_key_text(entity: SourceEntity, text: str) -> list[Any]:
    """Return a key_text as the key's Python values; ValueError when it is not one."""
    values = json.loads(text)
    if not isinstance(values, list) or len(values) != len(entity.key):
        raise ValueError(f"chave {text!r} não tem as colunas {', '.join(entity.key)}")
    return [from_json(column, value) for column, value in zip(entity.key_columns, values)]
