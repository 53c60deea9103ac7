"""A real worker runs multi-batch analyses; exactly-once results and completion, whatever the order."""
from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from core.redis_client import get_redis
from core.ruptura import analises, regras
from core.sse import stream_key
from tests.ruptura.support import Carteira, pedidos_simples
from tests.support.waiting import wait_until


def read_channel_until_complete(analise_id: str, timeout_s: float = 60) -> list[tuple[str, dict[str, Any]]]:
    """Follow the analysis's SSE stream in Redis (XREAD BLOCK) until 'completo' or timeout."""
    key, last, events = stream_key(analises.canal(analise_id)), "0-0", []

    def read() -> list[tuple[str, dict[str, Any]]] | None:
        nonlocal last
        for _, entries in get_redis().xread({key: last}, block=500) or []:
            for event_id, fields in entries:
                last = event_id
                events.append((fields["type"], json.loads(fields["data"])))
                if fields["type"] == "completo":
                    # anything sent after "completo" would break "complete comes last"
                    time.sleep(0.3)
                    trailing = get_redis().xread({key: last}) or []
                    return events + [(f["type"], json.loads(f["data"]))
                                     for _, es in trailing for _, f in es]
        return None

    return wait_until(read, timeout_s, lambda: f"'completo'; got {[t for t, _ in events]}")


def result_nums(events: list[tuple[str, dict[str, Any]]]) -> Counter[str]:
    return Counter(r["num_pedido"] for t, d in events if t == "resultados" for r in d["resultados"])


@pytest.mark.mariadb
def test_multi_batch_analysis_sends_each_result_once_and_complete_once_last(
        carteira: Carteira, worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    nums = pedidos_simples(carteira, 95)  # 5 batches of 20 (the last has 15)
    real = regras.analisar_pedido

    def quebra_um(pedido: regras.PedidoCarteira, *args: Any) -> dict[str, Any]:
        if pedido.num_pedido == nums[42]:
            raise RuntimeError("boom")
        return real(pedido, *args)

    monkeypatch.setattr(regras, "analisar_pedido", quebra_um)  # the worker runs in-process
    nova = analises.iniciar(owner_id=7, nums=nums + nums[:5])  # duplicates are dropped
    assert nova.total == 95 and [len(lote) for lote in nova.lotes] == [20, 20, 20, 20, 15]

    events = read_channel_until_complete(nova.analise_id)
    tipos = [t for t, _ in events]
    assert tipos.count("completo") == 1 and tipos[-1] == "completo"
    assert result_nums(events) == Counter({num: 1 for num in nums})
    progresso = [d["percentual"] for t, d in events if t == "progresso"]
    assert len(progresso) == 5 and max(progresso) == 100

    por_num = {r["num_pedido"]: r for t, d in events if t == "resultados" for r in d["resultados"]}
    assert por_num[nums[42]]["status"] == regras.FALHA  # the failing order, alone
    assert all(por_num[n]["status"] == regras.ANALISADO for n in nums if n != nums[42])
    assert events[-1][1] | {"duracao_s": 0} == {"total": 95, "processados": 95, "percentual": 100,
                                                "ok": 0, "ruptura": 94, "falhas": 1, "duracao_s": 0}

    estado = analises.estado(nova.analise_id)
    assert estado["completo"] and estado["processados"] == 95
    assert sorted(r["num_pedido"] for r in estado["resultados"]) == sorted(nums)


def test_batches_in_any_order_and_redelivered_count_once(db: str) -> None:
    nova = analises.criar(1, [f"N{i}" for i in range(50)])
    lotes = {n: lote for n, lote in enumerate(nova.lotes, start=1)}

    def resultados(lote: list[str]) -> list[dict[str, Any]]:
        return [regras.falha(num, "x") for num in lote]

    aid = nova.analise_id
    assert analises.registrar_lote(aid, "task-3", 3, resultados(lotes[3]))
    analises.registrar_lote(aid, "task-3", 3, resultados(lotes[3]))  # redelivered
    analises.registrar_lote(aid, "task-x", 3, resultados(lotes[3]))  # a stray duplicate
    analises.registrar_lote(aid, "task-1", 1, resultados(lotes[1]))
    estado = analises.estado(aid)
    assert estado["processados"] == 30 and not estado["completo"]
    assert analises.registrar_lote(aid, "task-2", 2, resultados(lotes[2]))
    # redelivered after completion: nothing more is sent
    assert not analises.registrar_lote(aid, "task-2", 2, resultados(lotes[2]))

    events = [(f["type"], json.loads(f["data"])) for _, f in
              get_redis().xrange(stream_key(analises.canal(aid)))]
    tipos = [t for t, _ in events]
    assert tipos.count("completo") == 1
    assert tipos[-1] == "completo"
    # the redelivery of task-3 republishes its own orders (at-least-once); no other task does
    assert result_nums(events) == Counter({**{n: 1 for n in lotes[1] + lotes[2]}, **{n: 2 for n in lotes[3]}})
    assert analises.estado(aid)["completo"]
    assert events[tipos.index("completo")][1]["falhas"] == 50


def test_an_expired_analysis_publishes_nothing(db: str) -> None:
    assert analises.registrar_lote("0" * 32, "t", 1, [regras.falha("N", "x")]) is False
    assert get_redis().xlen(stream_key(analises.canal("0" * 32))) == 0


def test_database_outage_is_retried_then_reported_per_order(
        carteira: Carteira, worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # What must survive: the analysis still completes, and each order says why it has no verdict.
    from sqlalchemy.exc import OperationalError

    import tasks.ruptura
    from tasks.base import JobTask

    nums = pedidos_simples(carteira, 25)
    tentativas: list[int] = []

    def banco_fora(pedidos: list[str]) -> list[dict[str, Any]]:
        tentativas.append(len(pedidos))
        raise OperationalError("SELECT 1", {}, Exception("server has gone away"))

    monkeypatch.setattr(regras, "analisar_pedidos", banco_fora)
    monkeypatch.setattr(JobTask, "retry_countdown", lambda self: 0.05)
    nova = analises.iniciar(owner_id=1, nums=nums)
    events = read_channel_until_complete(nova.analise_id)

    assert len(tentativas) == 2 * (1 + tasks.ruptura.analisar_lote.max_retries)  # 2 batches, each retried
    assert result_nums(events) == Counter({num: 1 for num in nums})
    falhas = [r for t, d in events if t == "resultados" for r in d["resultados"]]
    assert all(r["status"] == regras.FALHA and "Banco de dados" in r["erro"] for r in falhas)
    assert events[-1][1]["falhas"] == 25
