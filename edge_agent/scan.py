"""Turn one line read from the scanner into a scan message, or a rejection with its reason."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from edge_agent.config import AgentConfig


@dataclass(frozen=True)
class Rejected:
    """A line that is not a product id: never spooled, never sent."""

    reason: str
    preview: str


def _preview(text: str) -> str:
    """A short, printable rendering of what was read, safe to log."""
    shown = text[:40].encode("unicode_escape").decode("ascii")
    return shown + (f"... ({len(text)} chars)" if len(text) > 40 else "")


def make_scan(raw: str | bytes, config: AgentConfig) -> dict[str, Any] | Rejected:
    """Validate a read line and return the scan message (scan_id, product_id, store_key,
    device_id, scanned_at) or a Rejected with the reason."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Rejected("not UTF-8 text", _preview(raw.decode("latin-1")))
    text = raw.strip()
    if not text:
        return Rejected("empty read", "")
    if len(text) > config.product_id_max_length:
        return Rejected(f"longer than {config.product_id_max_length} characters", _preview(text))
    if not text.isascii() or not re.fullmatch(config.product_id_pattern, text):
        return Rejected(f"does not match the product id pattern {config.product_id_pattern}",
                        _preview(text))
    return {
        "scan_id": str(uuid.uuid4()),
        "product_id": text,
        "store_key": config.store_key,
        "device_id": config.device_id,
        "scanned_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
    }
