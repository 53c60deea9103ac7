"""One ruptura analysis of many orders: its state in Redis, and its events on SSE channel
`ruptura:<analise_id>`.

Batches finish in any order and may be delivered twice (acks_late), so the bookkeeping is
done by Lua scripts, which Redis runs atomically:
- an order's result is claimed by the first task that records it (HSETNX); a redelivery of
  that same task (same task id) may publish it again, any other task may not;
- a batch publishes its results and its progress first, and only then marks its orders as
  published; the task whose marking makes every order published claims the completion, so
  "completo" is sent once and after every other event of the analysis.
Everything expires after settings.ruptura_results_ttl_s.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import sse
from core.enqueue import enqueue_many
from core.redis_client import get_redis
from core.ruptura.regras import ANALISADO, FALHA
from core.settings import get_settings

TAMANHO_LOTE = 20
MAX_PEDIDOS = 20_000

_ID = re.compile(r"^[0-9a-f]{32}$")

# KEYS: meta, claimed, results. ARGV: ttl, task_id, then (num, json, kind) triples.
# Returns -1 when the analysis has expired, 0 when it already completed (a late redelivery
# has nothing to add), else {claimed count, {num, stored json}...}.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'completo') == 1 then return 0 end
local mine = {}
for i = 3, #ARGV, 3 do
  local num = ARGV[i]
  if redis.call('HSETNX', KEYS[2], num, ARGV[2]) == 1 then
    redis.call('HSET', KEYS[3], num, ARGV[i + 1])
    redis.call('HINCRBY', KEYS[1], 'n_' .. ARGV[i + 2], 1)
    table.insert(mine, num)
    table.insert(mine, ARGV[i + 1])
  elseif redis.call('HGET', KEYS[2], num) == ARGV[2] then
    table.insert(mine, num)
    table.insert(mine, redis.call('HGET', KEYS[3], num))
  end
end
for k = 1, 3 do redis.call('EXPIRE', KEYS[k], ARGV[1]) end
return {redis.call('HLEN', KEYS[2]), mine}
"""

# KEYS: meta, published. ARGV: ttl, task_id, nums... Returns 1 when this task must send
# "completo" (every order published, not yet completed, and claimed by this task).
_MARK_PUBLISHED = """
for i = 3, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[2], ARGV[1])
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '-1')
if total < 0 or redis.call('SCARD', KEYS[2]) < total then return 0 end
if redis.call('HEXISTS', KEYS[1], 'completo') == 1 then return 0 end
redis.call('HSETNX', KEYS[1], 'completado_por', ARGV[2])
if redis.call('HGET', KEYS[1], 'completado_por') == ARGV[2] then return 1 end
return 0
"""


def canal(analise_id: str) -> str:
    """Return the SSE channel of an analysis."""
    return f"ruptura:{analise_id}"


def _key(analise_id: str, part: str) -> str:
    return f"ruptura:{analise_id}:{part}"


def id_valido(analise_id: str) -> bool:
    """Return whether the text has the shape of an analysis id (32 hex digits)."""
    return bool(_ID.match(analise_id))


# The task analysing one batch (tasks/ruptura.py).
TASK_NAME = "ruptura.analisar_lote"


@dataclass(frozen=True)
class NovaAnalise:
    analise_id: str
    lotes: list[list[str]]

    @property
    def total(self) -> int:
        return sum(len(lote) for lote in self.lotes)


def criar(owner_id: int, nums: Sequence[str]) -> NovaAnalise:
    """Record a new analysis of these orders (duplicates dropped) for its owner; return its batches."""
    distintos = list(dict.fromkeys(nums))
    if not distintos:
        raise ValueError("Nenhum pedido informado.")
    if len(distintos) > MAX_PEDIDOS:
        raise ValueError(f"No máximo {MAX_PEDIDOS} pedidos por análise.")
    analise_id = uuid.uuid4().hex
    lotes = [distintos[i:i + TAMANHO_LOTE] for i in range(0, len(distintos), TAMANHO_LOTE)]
    meta = _key(analise_id, "meta")
    pipe = get_redis().pipeline()
    pipe.hset(meta, mapping={"owner_id": owner_id, "total": len(distintos),
                             "lotes": len(lotes), "criada_em": time.time()})
    pipe.expire(meta, get_settings().ruptura_results_ttl_s)
    pipe.execute()
    return NovaAnalise(analise_id, lotes)


def iniciar(owner_id: int, nums: Sequence[str]) -> NovaAnalise:
    """Record an analysis of these orders for its owner and enqueue its batches, first batch first."""
    nova = criar(owner_id, nums)
    enqueue_many(TASK_NAME, [{"analise_id": nova.analise_id, "lote": numero, "pedidos": lote}
                             for numero, lote in enumerate(nova.lotes, start=1)])
    return nova


def dono(analise_id: str) -> int | None:
    """Return the id of the user who started the analysis, or None (unknown or expired)."""
    if not id_valido(analise_id):
        return None
    owner = get_redis().hget(_key(analise_id, "meta"), "owner_id")
    return int(owner) if owner is not None else None


def registrar_lote(analise_id: str, task_id: str, lote: int,
                   resultados: Sequence[dict[str, Any]]) -> bool:
    """Store a batch's results, publish them, then progress, then (once) completion.

    Returns False when nothing was published: the analysis expired, or already completed.
    """
    redis = get_redis()
    ttl = get_settings().ruptura_results_ttl_s
    meta = _key(analise_id, "meta")
    args: list[Any] = [ttl, task_id]
    for resultado in resultados:
        args += [resultado["num_pedido"], json.dumps(resultado, default=str),
                 _tipo(resultado)]
    reply = redis.register_script(_CLAIM)(
        keys=[meta, _key(analise_id, "claimed"), _key(analise_id, "results")], args=args)
    if reply in (-1, 0):
        return False
    processados, pares = int(reply[0]), reply[1]
    meus = [json.loads(pares[i + 1]) for i in range(0, len(pares), 2)]
    total = int(redis.hget(meta, "total") or 0)
    channel = canal(analise_id)
    if meus:
        sse.publish(channel, "resultados", {"lote": lote, "resultados": meus})
    sse.publish(channel, "progresso", {"processados": processados, "total": total,
                                       "percentual": _percentual(processados, total)})
    completar = redis.register_script(_MARK_PUBLISHED)(
        keys=[meta, _key(analise_id, "published")],
        args=[ttl, task_id, *[r["num_pedido"] for r in meus]])
    if completar == 1:
        sse.publish(channel, "completo", _resumo(analise_id))
        redis.hset(meta, "completo", time.time())
    return True


def estado(analise_id: str) -> dict[str, Any] | None:
    """Return an analysis's progress and every result stored so far, or None if unknown."""
    if not id_valido(analise_id):
        return None
    redis = get_redis()
    pipe = redis.pipeline(transaction=True)
    pipe.hgetall(_key(analise_id, "meta"))
    pipe.hlen(_key(analise_id, "claimed"))
    pipe.hvals(_key(analise_id, "results"))
    meta, processados, valores = pipe.execute()
    if not meta:
        return None
    total = int(meta["total"])
    return {"analise_id": analise_id, "canal": canal(analise_id), "total": total,
            "processados": int(processados), "percentual": _percentual(int(processados), total),
            "completo": "completo" in meta,
            "resultados": [json.loads(v) for v in valores]}


def _resumo(analise_id: str) -> dict[str, Any]:
    meta = get_redis().hgetall(_key(analise_id, "meta"))
    total = int(meta.get("total", 0))
    return {"total": total, "processados": total, "percentual": 100,
            "ok": int(meta.get("n_ok", 0)), "ruptura": int(meta.get("n_ruptura", 0)),
            "falhas": int(meta.get("n_falha", 0)),
            "duracao_s": round(time.time() - float(meta.get("criada_em", time.time())), 3)}


def _tipo(resultado: dict[str, Any]) -> str:
    if resultado.get("status") != ANALISADO:
        return FALHA
    return "ok" if resultado.get("pedido_ok") else "ruptura"


def _percentual(processados: int, total: int) -> int:
    return 100 if total == 0 else min(100, processados * 100 // total)
