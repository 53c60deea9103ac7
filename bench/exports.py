"""Benchmark: the large exports (web/exports.py), streamed, on SQLite in a temporary folder.

- carteira: 20,000 open orders (8 lines on average) exported to CSV sorted by value at risk;
- baixas: 50,000 written-off products to CSV and to XLSX.
For each: time to the first byte (a CSV's header goes out before any row is read, the
carteira's before its analysis), total time, size, and how much the process's resident memory
grew during the export, in a fresh process per export (less than the file: nothing is held
whole).

The views are called in a request context (no HTTP server, no login), iterating the streamed
body as the server would. Run: .venv/bin/python bench/exports.py   Last line: JSON.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Smaller runs (to see that memory does not grow with the export): these two variables.
N_PEDIDOS = int(os.environ.get("STOCKFLOW_BENCH_EXPORT_ORDERS", "20000"))
MAX_ITENS = 15
N_BAIXAS = int(os.environ.get("STOCKFLOW_BENCH_EXPORT_BAIXAS", "50000"))


def log(message: str) -> None:
    print(f"[bench exports] {message}", file=sys.stderr, flush=True)


EXPORTS = {"carteira_csv": ("ruptura", "exportar", "csv", "/carteira/exportar.csv"),
           "baixas_csv": ("baixa", "export_history", "csv", "/baixas/exportar/historico.csv?loja=L1"),
           "baixas_xlsx": ("baixa", "export_history", "xlsx", "/baixas/exportar/historico.xlsx?loja=L1")}


class PeakRss:
    """The highest resident memory of this process while in the block, sampled every 20 ms."""

    def __enter__(self) -> "PeakRss":
        import psutil

        self.process = psutil.Process()
        self.before = self.peak = self.process.memory_info().rss
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc: Any) -> None:
        self.done.set()
        self.thread.join()


def run_export(name: str) -> dict[str, float]:
    """In this (fresh) process: run one export, and measure it."""
    import importlib

    from web.app import create_app

    app = create_app()
    module, view, formato, url = EXPORTS[name]
    function = getattr(importlib.import_module(f"web.{module}"), view)
    with app.test_request_context(url), PeakRss() as memory:
        start = time.perf_counter()
        response = function(formato)
        first = None
        size = 0
        for piece in response.response:
            if piece and first is None:
                first = time.perf_counter() - start
            size += len(piece)
        total = time.perf_counter() - start
        response.close()
    return {"first_byte_s": round(first or 0.0, 3), "s": round(total, 2), "mb": round(size / 1e6, 1),
            "extra_rss_mb": round((memory.peak - memory.before) / 1e6, 1)}


def in_child(name: str) -> dict[str, float]:
    output = subprocess.run([sys.executable, __file__, "--export", name], check=True,
                            capture_output=True, text=True, env=os.environ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    folder = tempfile.mkdtemp(prefix="stockflow-bench-exports-")
    os.environ["STOCKFLOW_DATABASE_URL"] = f"sqlite:///{folder}/bench.db"
    from core.db import Base, get_engine, session_scope
    from core.models import ProdutoRemovido
    from core.ruptura.demo import gerar_carteira, inserir
    from core.ruptura.regras import hoje_local

    Base.metadata.create_all(get_engine())
    started = time.perf_counter()
    carteira = gerar_carteira(N_PEDIDOS, MAX_ITENS, hoje_local(), n_produtos=3000)
    when = datetime(2026, 10, 1, tzinfo=timezone.utc)
    with session_scope() as session:
        inserir(session, carteira)
        session.execute(ProdutoRemovido.__table__.insert(), [
            {"id": n, "store_key": "L1", "descricao": f"Produto {n}", "codigo_barras": f"789{n:010d}",
             "preco": Decimal("9.90"), "lote": "L", "validade": None, "created_at": when,
             "responsavel_retirada": "Leitor QRCODE", "data_retirada": when + timedelta(seconds=n),
             "device_id": "pi-1", "scan_id": f"{n:036d}"} for n in range(N_BAIXAS)])
    log(f"data: {len(carteira.pedidos)} orders, {len(carteira.itens)} lines, {N_BAIXAS} removals "
        f"in {time.perf_counter() - started:.1f} s")
    figures: dict[str, Any] = {"orders": len(carteira.pedidos), "lines": len(carteira.itens),
                               "baixas": N_BAIXAS}
    for name in EXPORTS:
        result = in_child(name)
        log(f"{name}: {result}")
        figures.update({f"{name}_{key}": value for key, value in result.items()})
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--export"]:
        print(json.dumps(run_export(sys.argv[2])))
    else:
        main()
