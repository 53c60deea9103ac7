"""`flask deadletters discard`: the Falhas page's discard from a terminal, audited the same way."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core import audit, dead_letters
from core.db import session_scope
from core.models import AuditEntry, DeadLetter

# Replaying this is harmless should a worker run it (a sweep with nothing to do).
HARMLESS = "maintenance.prune_jobs"


def discard(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["deadletters", "discard", *args])


def discards_audited() -> list[AuditEntry]:
    with session_scope() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "dead_letter.discard")
                                    .order_by(AuditEntry.id)))


@pytest.mark.mariadb
def test_discard_closes_open_entries_and_names_those_it_could_not(app: Any) -> None:
    first = dead_letters.record(HARMLESS, [], {"keep_days": 30}, "OperationalError: x", reference="a")
    second = dead_letters.record(HARMLESS, [], {"keep_days": 31}, "OperationalError: y", reference="b")
    replayed = dead_letters.record(HARMLESS, [], {"keep_days": 32}, "OperationalError: z", reference="c")
    assert dead_letters.replay(replayed, "admin")
    unknown = replayed + 1000

    done = discard(app, str(first), str(second), "--reason", "limpeza de teste")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [f"falha {first} descartada", f"falha {second} descartada"]
    with session_scope() as session:
        entry = session.get(DeadLetter, first)
        assert entry.discard_reason == "limpeza de teste" and entry.discarded_by == audit.cli_actor()
    rows = discards_audited()
    assert [(row.target, row.outcome, row.actor) for row in rows] == [
        (str(first), "ok", audit.cli_actor()), (str(second), "ok", audit.cli_actor())]
    assert rows[0].detail == {"motivo": "limpeza de teste", "task": HARMLESS}

    # one still open, the others not: the open one is discarded, the exit status says not all were
    third = dead_letters.record(HARMLESS, [], {"keep_days": 33}, "OperationalError: w", reference="d")
    mixed = discard(app, str(third), str(first), str(replayed), str(unknown), "--reason", "de novo")
    assert mixed.exit_code == 1
    assert mixed.stdout.splitlines() == [f"falha {third} descartada"]
    refused = mixed.stderr.splitlines()
    assert refused[0].startswith(f"falha {first} não descartada: já descartada em ")
    assert refused[0].endswith(f"por {audit.cli_actor()} (limpeza de teste)")
    assert refused[1].startswith(f"falha {replayed} não descartada: já reenviada em ")
    assert refused[1].endswith(" por admin")
    assert refused[2:] == [f"falha {unknown} não descartada: não existe"]
    # every attempt is in the trail, the refused ones as failed (as the page's are)
    assert [(row.target, row.outcome) for row in discards_audited()[2:]] == [
        (str(third), "ok"), (str(first), "failed"), (str(replayed), "failed"), (str(unknown), "failed")]
    assert dead_letters.list_open() == []


def test_discard_needs_a_reason_and_ids(app: Any, db: str) -> None:
    entry = dead_letters.record(HARMLESS, [], {}, "erro")
    assert discard(app, str(entry)).exit_code == 2  # no --reason
    blank = discard(app, str(entry), "--reason", "   ")
    assert blank.exit_code == 2 and "Informe o motivo do descarte" in blank.output
    assert discard(app, "--reason", "x").exit_code == 2  # no id
    assert discard(app, "abc", "--reason", "x").exit_code == 2
    assert discard(app, "0", "--reason", "x").exit_code == 2
    assert [row.id for row in dead_letters.list_open()] == [entry] and discards_audited() == []
