"""The drift check: do the Consinco views still have the columns and types the models and the
mapping expect? Run before every sync slice (and by the dry run), so a view changed under us
stops the run with a reason instead of sending nulls or half-read rows.

The columns come from SQLAlchemy's inspector on the source (on Oracle it reads
ALL_TAB_COLUMNS, views included; SQLite and MariaDB in development and tests). Types are
compared by family (integer, decimal, text, date), not by exact name: the same model is
NUMBER(19) on Oracle, BIGINT on MariaDB and SQLite; Oracle's DATE carries a time, so date and
timestamp are one family; a NUMBER without precision (a computed view column) may hold either
kind of number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, types
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoSuchTableError

from core.settings import get_settings
from core.sync.consinco.entities import SourceEntity
from core.sync.mapeamento import MAPEAMENTOS

INTEIRO, DECIMAL, NUMERO, TEXTO, DATA, OUTRO = ("inteiro", "decimal", "número", "texto", "data",
                                              "outro")
# What each expected family accepts in the view.
ACCEPTS = {INTEIRO: {INTEIRO, NUMERO}, DECIMAL: {DECIMAL, INTEIRO, NUMERO},
           TEXTO: {TEXTO}, DATA: {DATA}}


class SchemaDrift(RuntimeError):
    """A view no longer matches what the sync expects; the message says how, in pt-BR."""


@dataclass(frozen=True)
class Problem:
    """One difference between a view and its model: the column and what is wrong with it."""

    coluna: str
    motivo: str


def family(column_type: types.TypeEngine[Any]) -> str:
    """Return the family of a (model or reflected) column type."""
    if isinstance(column_type, types.Float):  # not a Numeric since SQLAlchemy 2.1
        return DECIMAL
    if isinstance(column_type, types.Numeric):
        scale = getattr(column_type, "scale", None)
        if scale == 0:
            return INTEIRO
        if scale is None:
            # Oracle's NUMBER is Numeric and Integer; plain NUMBER may be either.
            return NUMERO if getattr(column_type, "precision", None) is None else DECIMAL
        return DECIMAL
    if isinstance(column_type, types.Integer):
        return INTEIRO
    if isinstance(column_type, (types.String, types.Text, types.Enum)):
        return TEXTO
    if isinstance(column_type, (types.Date, types.DateTime)):
        return DATA
    return OUTRO


def _uses(entity: SourceEntity) -> dict[str, str]:
    """Return column -> the Plusoft field (or role) that reads it, for the reasons."""
    uses = {coluna: f"campo {campo}" for campo, coluna, _ in MAPEAMENTOS[entity.name].campos}
    for name in entity.key:
        uses.setdefault(name, "chave")
    if entity.watermark:
        uses.setdefault(entity.watermark, "marca d'água")
    return uses


def problems(connection: Connection, entity: SourceEntity) -> list[Problem]:
    """Return how the entity's view differs from its model (empty when it matches)."""
    schema = get_settings().consinco_schema or None
    try:
        reflected = inspect(connection).get_columns(entity.table.name, schema=schema)
    except NoSuchTableError:
        return [Problem("*", f"a view {entity.table.name} não existe na origem")]
    found = {column["name"].upper(): column for column in reflected}
    expected = {column.name.upper(): column for column in entity.table.columns}
    uses = _uses(entity)
    missing = [name for name in expected if name not in found]
    extra = sorted(name for name in found if name not in expected)
    result = []
    for name in missing:
        hint = f" (renomeada? a view tem agora {', '.join(extra)})" if extra else ""
        result.append(Problem(name, f"coluna {name} ({uses.get(name, 'lida pelo modelo')}) "
                                    f"não existe mais na view{hint}"))
    for name, column in expected.items():
        if name not in found:
            continue
        wanted, got = family(column.type), family(found[name]["type"])
        if got not in ACCEPTS.get(wanted, {wanted}):
            result.append(Problem(name, f"coluna {name} ({uses.get(name, 'lida pelo modelo')}) "
                                        f"mudou de tipo: esperado {wanted}, a view tem "
                                        f"{found[name]['type']} ({got})"))
    return result


def reason(entity: SourceEntity, found: list[Problem]) -> str:
    """Return the pt-BR reason a run stops for, naming the view and every problem."""
    return (f"A view {entity.table.name} mudou e não corresponde ao mapeamento de "
            f"{entity.name}: {'; '.join(p.motivo for p in found)}. Nada foi enviado; ajuste o "
            "modelo e o mapeamento (core/sync/consinco/models.py, core/sync/mapeamento.py) ou "
            "a view, e sincronize de novo.")


def check(connection: Connection, entity: SourceEntity) -> None:
    """Raise SchemaDrift with the reason when the entity's view does not match its model."""
    found = problems(connection, entity)
    if found:
        raise SchemaDrift(reason(entity, found))
