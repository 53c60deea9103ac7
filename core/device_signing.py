"""Device signatures: the secret of each device and the check of what it signs.

A device's secret is HMAC-SHA256(STOCKFLOW_DEVICE_SIGNING_KEY, "<device_id>\\n<generation>"):
recomputed here when needed, never stored, so the database holds nothing to steal but the
generation, which `devices add` (again) and `devices secret --rotate` advance. The agent signs
each scan and health report with it (edge_agent/signing.py: the same canonical encoding,
duplicated because the agent imports no server code; tests/devices/test_signatures.py holds
the two equal) and the workers verify before anything is written (core/devices.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from core.settings import get_settings

SIGNATURE = "signature"
SCAN_FIELDS = ("scan_id", "product_id", "store_key", "device_id", "scanned_at")
SCAN_CONTEXT = b"stockflow-scan-v1\n"
REPORT_CONTEXT = b"stockflow-health-v1\n"
SECRET_CONTEXT = b"stockflow-device-secret-v1\n"


@dataclass(frozen=True)
class Signed:
    """What a message's signature must cover (None: the message cannot be encoded) and the
    signature it carries (anything a message may hold; None when it has none)."""

    message: bytes | None
    signature: object


def device_secret(device_id: str, generation: int) -> str:
    """Return the signing secret of a device at one credential generation (hex)."""
    key = get_settings().device_signing_key.encode("utf-8")
    return hmac.new(key, SECRET_CONTEXT + f"{device_id}\n{generation}".encode("utf-8"),
                    hashlib.sha256).hexdigest()


def _json(value: Any) -> bytes | None:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    except (TypeError, ValueError, RecursionError):
        return None


def scan_signed(scan: dict[str, Any], signature: object) -> Signed:
    """Return what a scan's signature covers: scan_id, product_id, store_key, device_id and
    scanned_at as they arrived."""
    message = _json([scan.get(field) for field in SCAN_FIELDS])
    return Signed(SCAN_CONTEXT + message if message is not None else None, signature)


def report_signed(report: dict[str, Any]) -> Signed:
    """Return what a health report's signature covers: every field but the signature."""
    message = _json({k: v for k, v in report.items() if k != SIGNATURE})
    return Signed(REPORT_CONTEXT + message if message is not None else None,
                  report.get(SIGNATURE))


def valid(signed: Signed, device_id: str, generation: int) -> bool:
    """Whether the signature is the device's HMAC of the message (constant-time compare)."""
    if signed.message is None or not isinstance(signed.signature, str):
        return False
    expected = hmac.new(device_secret(device_id, generation).encode("utf-8"), signed.message,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"),
                               signed.signature.encode("utf-8", "backslashreplace"))
