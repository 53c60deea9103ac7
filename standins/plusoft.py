"""A local stand-in for Plusoft's transactional-load API (for `make up`, tests and the bench).

POST <anything>/<entidade> with a JSON array of records answers {"aceitos": n, "rejeitados": []}.
It keeps what it received, drops a repeated Idempotency-Key (answering as the first time),
and upserts each record by its key (core.sync.mapeamento's `chave` fields) as an idempotent
receiver would: it counts the distinct records per entity, and a record arriving again with
the content it already has is a duplicate (counted, changes nothing). It can be told to
misbehave, one scripted fault per request:
  "429" / "429:<retry-after s>"   Too Many Requests with Retry-After (default 1)
  "500", "503"                    server errors
  "timeout" / "timeout:<s>"       store the batch, then answer too late (default 3 s)
  "lento:<s>"                     answer normally after <s> seconds
  "rejeitar:<n>"                  accept the batch but refuse its first n rows
Admin: POST /admin/falhas {"falhas": [...]}, GET /admin/estado, POST /admin/limpar.

Run: python -m standins.plusoft [--port 8765] [--contar-apenas]
"""
from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from core.settings import get_settings
from core.sync.mapeamento import MAPEAMENTOS

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    # HTTP/1.1 keeps the sync's connection alive between batches, as a real API would.
    protocol_version = "HTTP/1.1"

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class PlusoftStandIn:
    """The stand-in server; `start()` serves it from a thread, `state()` tells what it got."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str = "",
                 keep_records: bool = True, faults: Iterable[str] = ()) -> None:
        self.host, self.port, self.token = host, port, token
        self.keep_records = keep_records
        self._lock = threading.Lock()
        self._faults: deque[str] = deque(faults)
        self._server: BaseWSGIServer | None = None
        self.reset()

    # --- state ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything received and every pending fault."""
        with self._lock:
            self.records: dict[str, list[dict[str, Any]]] = {}
            self.rows: Counter[str] = Counter()
            self.answers: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> first answer
            self.batch_keys: list[str] = []  # every key accepted, in order (duplicates not)
            self.requests = 0
            self.duplicates = 0  # batches dropped by a repeated Idempotency-Key
            # entidade -> hash of a record's key -> hash of its current content (hashes, not
            # the values, keep a million records in ~100 MB)
            self.current: dict[str, dict[int, int]] = {}
            # records received again with the content the stand-in already had
            self.row_duplicates: Counter[str] = Counter()
            self.faults_served: list[str] = []
            self._faults.clear()

    def inject(self, *faults: str) -> None:
        """Queue faults; each following request consumes one."""
        with self._lock:
            self._faults.extend(faults)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"linhas": dict(self.rows), "requisicoes": self.requests,
                    "lotes": len(self.batch_keys), "duplicados": self.duplicates,
                    "distintas": {name: len(keys) for name, keys in self.current.items()},
                    "linhas_duplicadas": dict(self.row_duplicates),
                    "falhas_servidas": list(self.faults_served),
                    "falhas_pendentes": list(self._faults)}

    # --- HTTP -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL to use as STOCKFLOW_PLUSOFT_BASE_URL."""
        return f"http://{self.host}:{self.port}/api/v1/carga"

    def start(self) -> "PlusoftStandIn":
        self._server = make_server(self.host, self.port, self.wsgi, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name="plusoft-standin").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_forever(self) -> None:
        self._server = make_server(self.host, self.port, self.wsgi, threaded=True,
                                   request_handler=_QuietHandler)
        self._server.serve_forever()

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/admin/estado":
            return _json(self.state())
        if path == "/admin/falhas" and request.method == "POST":
            self.inject(*(request.get_json(silent=True) or {}).get("falhas", []))
            return _json(self.state())
        if path == "/admin/limpar" and request.method == "POST":
            self.reset()
            return _json(self.state())
        if request.method != "POST":
            return _json({"servico": "plusoft-standin"})
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json({"erro": "token inválido"}, 401)
        return self._receive(path.rsplit("/", 1)[-1], request)

    def _receive(self, entidade: str, request: Request) -> Response:
        with self._lock:
            self.requests += 1
            fault = self._faults.popleft() if self._faults else ""
            if fault:
                self.faults_served.append(fault)
        kind, _, arg = fault.partition(":")
        if kind in ("429", "500", "503"):
            headers = {"Retry-After": arg or "1"} if kind in ("429", "503") else {}
            return _json({"erro": f"falha simulada {kind}"}, int(kind), headers)
        if kind == "lento":
            time.sleep(float(arg or 1))
        records = json.loads(request.get_data() or b"[]")
        if not isinstance(records, list):
            return _json({"erro": "o corpo deve ser uma lista de registros"}, 422)
        key = request.headers.get("Idempotency-Key", "")
        refuse = int(arg) if kind == "rejeitar" else 0
        answer = {"aceitos": len(records) - min(refuse, len(records)),
                  "rejeitados": [{"indice": i, "motivo": "rejeição simulada"}
                                 for i in range(min(refuse, len(records)))]}
        with self._lock:
            if key and key in self.answers:
                self.duplicates += 1
                answer = self.answers[key]
            else:
                if key:
                    self.answers[key] = answer
                self.batch_keys.append(key)
                self.rows[entidade] += answer["aceitos"]
                self._upsert(entidade, records[refuse:])
                if self.keep_records:
                    self.records.setdefault(entidade, []).extend(records[refuse:])
        if kind == "timeout":
            time.sleep(float(arg or 3))  # the batch is stored, but the answer comes too late
        return _json(answer)

    def _upsert(self, entidade: str, records: list[Any]) -> None:
        """Store each record under its key; one whose content is already there is a duplicate."""
        current = self.current.setdefault(entidade, {})
        mapper = MAPEAMENTOS.get(entidade)
        for record in records:
            key, content = _identity(mapper.chave if mapper else None, record)
            if current.get(key) == content:
                self.row_duplicates[entidade] += 1
            current[key] = content


def _identity(fields: tuple[str, ...] | None, record: Any) -> tuple[int, int]:
    """Return (hash of the record's key, hash of its content); without key fields, or for a
    record that is not an object, the whole content is the key. (Python's hash: stable
    within this process, which is all the stand-in needs.)"""
    try:
        content = hash(tuple(record.items()))  # a sender keeps its field order
    except (AttributeError, TypeError):  # not an object, or nested values: hash their JSON
        content = hash(json.dumps(record, sort_keys=True))
    if fields is None or not isinstance(record, dict):
        return content, content
    try:
        return hash(tuple([record.get(name) for name in fields])), content
    except TypeError:
        return hash(json.dumps([record.get(name) for name in fields])), content


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in on the port of STOCKFLOW_PLUSOFT_BASE_URL (or --port)."""
    settings = get_settings()
    base = urlsplit(settings.plusoft_base_url)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=base.port or 8765)
    parser.add_argument("--token", default=settings.plusoft_token)
    parser.add_argument("--contar-apenas", action="store_true",
                        help="count rows without keeping them (benchmarks)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(message)s")
    if base.hostname not in ("127.0.0.1", "localhost"):
        # A real Plusoft is configured: stay up idle so `make up` (honcho) keeps running.
        log.info("plusoft stand-in idle: STOCKFLOW_PLUSOFT_BASE_URL points at %s", base.hostname)
        threading.Event().wait()
    server = PlusoftStandIn(args.host, args.port, args.token, keep_records=not args.contar_apenas)
    log.info("plusoft stand-in on %s", server.url)
    server.serve_forever()


if __name__ == "__main__":
    main()
