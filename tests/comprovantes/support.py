"""Helpers of the receipts tests: the uploads on disk, and a job's events and end."""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from core.settings import get_settings
from tests.support.waiting import wait_until


def browser_multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """Return (body, Content-Type) of a form as browsers, curl and requests encode it.

    Werkzeug's test client writes an empty file part without the line break that ends its
    (empty) content, which the app's parser (web.forms) does not take for a part.
    """
    boundary = f"----formboundary{secrets.token_hex(8)}"
    body = b""
    for name, value in fields.items():
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n").encode()
    for name, (filename, data) in files.items():
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
                 f"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def uploads_snapshot() -> set[Path]:
    """Every file under the uploads folder right now."""
    root = Path(get_settings().var_dir) / "uploads"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def job_events(job_id: str) -> list[dict[str, Any]]:
    """Every event published so far on the job's SSE channel."""
    from core.redis_client import get_redis

    return [json.loads(fields["data"]) for _, fields in get_redis().xrange(f"sse:job:{job_id}")]


def wait_for_job(job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """Block on the job's SSE stream until it ends; return its final status."""
    from core import jobs
    from core.redis_client import get_redis

    last_id = "0-0"

    def ended() -> dict[str, Any] | None:
        nonlocal last_id
        status = jobs.get_status(job_id)
        if status and status["status"] in ("finished", "failed"):
            return status
        batch = get_redis().xread({f"sse:job:{job_id}": last_id}, count=100, block=1000)
        if batch:
            last_id = batch[0][1][-1][0]
        return None

    return wait_until(ended, timeout_s, lambda: f"job {job_id} to end: {jobs.get_status(job_id)}")
