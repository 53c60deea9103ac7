"""The local receivers alerts are delivered to in tests: an SMTP server (aiosmtpd) and an
HTTP server standing in for Slack, Teams and Google Chat webhooks."""
from __future__ import annotations

import json
import threading
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from standins.embedded_redis import free_port


class _Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                 policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (plain, as a local relay, unless told), until stop()."""

    def __init__(self, **options: Any) -> None:
        """`options` go to aiosmtpd's Controller: tls_context (STARTTLS), ssl_context (SMTPS),
        authenticator, require_starttls..."""
        self.inbox = _Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    @property
    def messages(self) -> list[Message]:
        return self.inbox.messages

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.messages]

    def stop(self) -> None:
        self.controller.stop()


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping every JSON body POSTed to it; `statuses` are the
    answers to give, in order (then 200)."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.statuses: list[int] = []
        self.posts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                receiver.posts += 1
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(raw))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"erro do receptor")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/segredo"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def texts(self) -> list[str]:
        return [body["text"] for body in self.bodies]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
