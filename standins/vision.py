"""A local stand-in for Google Cloud Vision's REST API (`images:annotate`, `files:annotate`).

It lets the real google-cloud-vision client (REST transport, anonymous credentials) run
against this machine: tests, the benchmark, or a laptop without Google credentials
(`python -m standins.vision --port 9090`, then
STOCKFLOW_OCR_ENGINE=google STOCKFLOW_GOOGLE_VISION_ENDPOINT=http://127.0.0.1:9090).
Text comes from a registry of known files (by SHA-256) or else from the offline engine.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.comprovantes.ocr.engines import OfflineEngine, render_pdf_pages


class VisionStandIn:
    """A threaded HTTP server answering the two Vision calls the GoogleVisionEngine makes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 reader: Callable[[bytes], str] | None = None) -> None:
        self.texts: dict[str, str] = {}
        self.requests: list[str] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._reader = reader
        self._offline: OfflineEngine | None = None
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "VisionStandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def register(self, data: bytes, text: str) -> None:
        """Answer `text` for this exact file (or page image) instead of running OCR."""
        self.texts[hashlib.sha256(data).hexdigest()] = text

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` calls with this HTTP error (Google's transient 5xx)."""
        with self._lock:
            self._failures.extend([status] * count)

    def _text_of_image(self, data: bytes) -> str:
        known = self.texts.get(hashlib.sha256(data).hexdigest())
        if known is not None:
            return known
        if self._reader is not None:
            return self._reader(data)
        if self._offline is None:
            self._offline = OfflineEngine()
        return self._offline.read_image(data)

    def annotate_images(self, body: dict[str, Any]) -> dict[str, Any]:
        responses = []
        for request in body.get("requests", []):
            content = base64.b64decode(request.get("image", {}).get("content", ""))
            responses.append(_annotation(self._text_of_image(content)))
        return {"responses": responses}

    def annotate_files(self, body: dict[str, Any]) -> dict[str, Any]:
        responses = []
        for request in body.get("requests", []):
            config = request.get("inputConfig") or request.get("input_config") or {}
            data = base64.b64decode(config.get("content", ""))
            wanted = request.get("pages") or [1, 2, 3, 4, 5]
            known = self.texts.get(hashlib.sha256(data).hexdigest())
            pages = [known] if known is not None else [
                self._text_of_image(png) for png in render_pdf_pages(data, max(wanted))]
            responses.append({"totalPages": len(pages), "responses": [
                {**_annotation(text), "context": {"pageNumber": number}}
                for number, text in enumerate(pages, start=1) if number in wanted]})
        return {"responses": responses}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?")[0]
                standin.requests.append(path)
                with standin._lock:
                    failure = standin._failures.pop(0) if standin._failures else None
                if failure:
                    self._send(failure, {"error": {"code": failure, "message": "stand-in failure",
                                                   "status": "UNAVAILABLE"}})
                elif path.endswith("/images:annotate"):
                    self._send(200, standin.annotate_images(body))
                elif path.endswith("/files:annotate"):
                    self._send(200, standin.annotate_files(body))
                else:
                    self._send(404, {"error": {"code": 404, "message": f"unknown path {path}",
                                               "status": "NOT_FOUND"}})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def _annotation(text: str) -> dict[str, Any]:
    """The parts of an AnnotateImageResponse a text reader looks at."""
    return {"fullTextAnnotation": {"text": text, "pages": []},
            "textAnnotations": [{"description": text}] if text else []}


def main() -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for the Google Vision REST API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    args = parser.parse_args()
    standin = VisionStandIn(args.host, args.port)
    print(f"vision stand-in on {standin.endpoint}", flush=True)
    standin.server.serve_forever()


if __name__ == "__main__":
    main()
