"""Benchmark: ruptura of 10,000 orders (8 items on average) on MariaDB.

Measured in one run, on the same data:
- ours: POST /api/carteira/ruptura/analises through the real web app, 2 worker processes
  (`celery -A tasks worker -Q ruptura -c 2`), results read from the SSE stream until
  "completo" -> orders_per_s;
- naive: the seed's per-order function (one query for the order, one for its items, and per
  item one for its stock and one for its entries), on batches of 20 in 2 processes, without
  publishing anything (so the ratio favours the naive way), over a 2,000-order sample of the
  same orders -> ratio_vs_naive (orders/s over orders/s);
- first_result_s: POST of one page of orders (50, the page's default) to its first SSE
  "resultados" event; first_result_10k_s is the same for the 10,000-order POST.
Every result of ours for the sample is checked against the naive one.

Run: .venv/bin/python bench/ruptura.py   (MariaDB from STOCKFLOW_BENCH_MYSQL_URL, or
root@127.0.0.1:3306, database stockflow_bench_ruptura, recreated). Last line: JSON.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_PEDIDOS = 10_000
MAX_ITENS = 15  # uniform 1..15: 8 items on average
PAGINA = 50
# The naive way runs ~10x slower; a sample of this many orders measures its rate in time.
N_NAIVE = 2_000
MYSQL_URL = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                           "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_ruptura")


def log(message: str) -> None:
    print(f"[bench ruptura] {message}", file=sys.stderr, flush=True)




def analisar_ingenuo(nums: list[str], hoje: date) -> list[dict[str, Any]]:
    """The seed's way: per order, a query for it and its items; per item, stock and entries."""
    from sqlalchemy import select

    from core.db import session_scope
    from core.models import EntradaProgramada, EstoqueAtual, Pedido, PedidoItem
    from core.ruptura import regras

    resultados = []
    with session_scope() as session:
        for num in nums:
            pedido = session.scalar(select(Pedido).where(Pedido.num_pedido == num))
            itens = session.scalars(select(PedidoItem).where(PedidoItem.pedido_id == pedido.id)
                                    .order_by(PedidoItem.id)).all()
            estoque, entradas = {}, {}
            for item in itens:
                estoque[item.cod_produto] = session.scalar(
                    select(EstoqueAtual.quantidade)
                    .where(EstoqueAtual.cod_produto == item.cod_produto)) or regras.ZERO
                entradas[item.cod_produto] = [
                    regras.Entrada(e.data_prevista, e.quantidade, e.origem)
                    for e in session.scalars(
                        select(EntradaProgramada)
                        .where(EntradaProgramada.cod_produto == item.cod_produto,
                               EntradaProgramada.data_prevista >= hoje)
                        .order_by(EntradaProgramada.data_prevista, EntradaProgramada.id))]
            carteira = regras.PedidoCarteira(
                pedido.num_pedido, pedido.cliente, pedido.data_entrega_prevista,
                tuple(regras.Item(i.cod_produto, i.nome_produto, i.quantidade, i.preco_unitario)
                      for i in itens))
            resultados.append(regras.analisar_pedido(carteira, estoque, entradas, hoje))
    return resultados


def _naive_worker_init() -> None:
    from core.db import dispose_engine

    dispose_engine()


def _naive_batch(args: tuple[list[str], date]) -> list[dict[str, Any]]:
    return analisar_ingenuo(*args)


def run_naive(lotes: list[list[str]], hoje: date) -> tuple[float, dict[str, dict[str, Any]]]:
    """Analyse every batch the naive way in 2 processes; return (seconds, results by order)."""
    with multiprocessing.get_context("fork").Pool(2, initializer=_naive_worker_init) as pool:
        start = time.perf_counter()
        resultados = [r for lote in pool.imap_unordered(_naive_batch, [(lote, hoje) for lote in lotes])
                      for r in lote]
        elapsed = time.perf_counter() - start
    return elapsed, {r["num_pedido"]: r for r in resultados}


class WebServer:
    """The real web app on a free port, in a thread (as tests' live_server)."""

    def __init__(self) -> None:
        from werkzeug.serving import make_server

        from web.app import create_app

        self.server = make_server("127.0.0.1", 0, create_app(), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def login(self, username: str, password: str) -> Any:
        import requests

        http = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(f"{self.url}/login").text).group(1)
        response = http.post(f"{self.url}/login", allow_redirects=False,
                             data={"username": username, "password": password, "csrf_token": token})
        assert response.status_code == 302, response.text
        http.headers["X-CSRFToken"] = token
        return http


def run_ours(web: WebServer, http: Any, nums: list[str]) -> dict[str, Any]:
    """POST an analysis, follow its SSE stream to "completo"; return timings and results."""
    from tests.support.sse import parse_sse  # the SSE parser the tests use

    start = time.perf_counter()
    response = http.post(f"{web.url}/api/carteira/ruptura/analises", json={"pedidos": nums}, timeout=60)
    assert response.status_code == 202, response.text
    post_s = time.perf_counter() - start
    analise = response.json()
    stream = http.get(f"{web.url}/stream", params={"channel": analise["canal"], "last_event_id": "0-0"},
                      stream=True, timeout=120)
    first_result_s = None
    resultados: dict[str, dict[str, Any]] = {}
    for event in parse_sse(stream):
        if event.type == "resultados":
            if first_result_s is None:
                first_result_s = time.perf_counter() - start
            resultados.update({r["num_pedido"]: r for r in event.data["resultados"]})
        elif event.type == "completo":
            break
    total_s = time.perf_counter() - start
    stream.close()
    return {"post_s": post_s, "first_result_s": first_result_s, "total_s": total_s,
            "resultados": resultados}


def same_verdict(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("status", "pedido_ok", "percentual_disponibilidade", "data_disponibilidade_total",
            "criticidade")
    return all(a.get(k) == b.get(k) for k in keys)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="stockflow-bench-ruptura-"))
    from standins import embedded_redis

    port = embedded_redis.free_port()
    redis_process = embedded_redis.start(port, tmp / "redis", appendonly=False)
    os.environ.update({
        "STOCKFLOW_ENV": "test", "STOCKFLOW_DATABASE_URL": MYSQL_URL,
        "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{port}/0", "STOCKFLOW_VAR_DIR": str(tmp / "var"),
        "STOCKFLOW_RUPTURA_WORKERS": "2", "STOCKFLOW_LOG_LEVEL": "WARNING",
        "STOCKFLOW_SSE_HEARTBEAT_S": "1",
    })
    os.environ.pop("STOCKFLOW_BROKER_URL", None)
    worker = None
    try:
        from core import migrate
        from core.db import dispose_engine, recreate_mysql_database, session_scope
        from core.ruptura.demo import gerar_carteira, inserir
        from core.ruptura.regras import hoje_local

        recreate_mysql_database(MYSQL_URL)
        migrate.upgrade()
        hoje = hoje_local()
        start = time.perf_counter()
        carteira = gerar_carteira(N_PEDIDOS, MAX_ITENS, hoje, seed=7, n_produtos=2_000)
        with session_scope() as session:
            inserir(session, carteira)
        n_itens = len(carteira.itens)
        log(f"{N_PEDIDOS} pedidos, {n_itens} itens ({n_itens / N_PEDIDOS:.1f}/pedido) "
            f"carregados em {time.perf_counter() - start:.1f}s")
        nums = [p["num_pedido"] for p in carteira.pedidos]
        dispose_engine()

        amostra = nums[::N_PEDIDOS // N_NAIVE]
        naive_s, naive = run_naive([amostra[i:i + 20] for i in range(0, len(amostra), 20)], hoje)
        naive_per_s = len(amostra) / naive_s
        log(f"ingênuo: {len(amostra)} pedidos em {naive_s:.1f}s = {naive_per_s:.0f} pedidos/s (2 processos)")

        worker_name = f"bench-ruptura-{os.getpid()}@localhost"
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "ruptura",
             "--concurrency", "2", "--pool", "prefork", "--hostname", worker_name,
             "--loglevel", "WARNING", "--without-mingle", "--without-gossip"], cwd=ROOT,
            stdout=sys.stderr)  # the JSON figures must stay the last line of stdout
        from core.celery_app import celery_app

        deadline = time.monotonic() + 60
        while not celery_app.control.ping(destination=[worker_name], timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("ruptura worker did not start")

        from core.users import create_user

        create_user("bench", "bench-password", role="financeiro")
        web = WebServer()
        http = web.login("bench", "bench-password")
        run_ours(web, http, nums[:200])  # warm-up: both worker processes connect to the DB

        pagina = run_ours(web, http, nums[-PAGINA:])
        log(f"página ({PAGINA} pedidos): primeiro resultado em {pagina['first_result_s']:.3f}s, "
            f"completo em {pagina['total_s']:.3f}s")
        ours = run_ours(web, http, nums)
        ours_per_s = N_PEDIDOS / ours["total_s"]
        log(f"workers: POST {ours['post_s']:.2f}s, primeiro resultado {ours['first_result_s']:.3f}s, "
            f"completo {ours['total_s']:.1f}s = {ours_per_s:.0f} pedidos/s")

        diferentes = [n for n in amostra if not same_verdict(ours["resultados"].get(n, {}), naive[n])]
        assert len(ours["resultados"]) == N_PEDIDOS, f"{len(ours['resultados'])} results"
        assert not diferentes, f"ours and naive disagree on {diferentes[:5]}"
        web.server.shutdown()
        time.sleep(1.5)  # closed SSE streams notice at their next heartbeat, before Redis stops

        print(json.dumps({
            "orders_per_s": round(ours_per_s, 1),
            "ratio_vs_naive": round(ours_per_s / naive_per_s, 2),
            "first_result_s": round(pagina["first_result_s"], 3),
            "first_result_10k_s": round(ours["first_result_s"], 3),
            "naive_orders_per_s": round(naive_per_s, 1), "naive_sample": len(amostra),
            "orders": N_PEDIDOS, "items": n_itens, "worker_processes": 2,
        }), flush=True)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        redis_process.terminate()
        dispose_engine()
        recreate_mysql_database(MYSQL_URL, create=False)




if __name__ == "__main__":
    main()
