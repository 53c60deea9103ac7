"""Sign each scan and health report with this device's secret, so the server knows which
device sent it whatever the broker lets through.

The secret is STOCKFLOW_AGENT_DEVICE_SECRET, printed by `flask devices add` (the server
derives it from its own key and never stores it). The signature is HMAC-SHA256, hex, over a
canonical encoding: for a scan, the JSON array of scan_id, product_id, store_key, device_id
and scanned_at; for a health report, the whole report as sorted, compact JSON without its
`signature` field. The server recomputes the same bytes (core/device_signing.py, the same
encoding: the agent imports no server code, tests/devices/test_signatures.py holds them
equal). A scan is signed when it is sent, so scans spooled before the upgrade are signed too.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE = "signature"
SCAN_FIELDS = ("scan_id", "product_id", "store_key", "device_id", "scanned_at")
SCAN_CONTEXT = b"stockflow-scan-v1\n"
REPORT_CONTEXT = b"stockflow-health-v1\n"


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def scan_message(scan: dict[str, Any]) -> bytes:
    """Return the bytes a scan's signature covers."""
    return SCAN_CONTEXT + _json([scan.get(field) for field in SCAN_FIELDS])


def report_message(report: dict[str, Any]) -> bytes:
    """Return the bytes a health report's signature covers (every field but the signature)."""
    return REPORT_CONTEXT + _json({k: v for k, v in report.items() if k != SIGNATURE})


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_scan(scan: dict[str, Any], secret: str | None) -> dict[str, Any]:
    """Return the scan's task kwargs: the scan plus its signature (as is without a secret)."""
    if not secret:
        return scan
    return {**scan, SIGNATURE: sign(secret, scan_message(scan))}


def signed_report(report: dict[str, Any], secret: str | None) -> dict[str, Any]:
    """Return the health report with its signature (as is without a secret)."""
    if not secret:
        return report
    return {**report, SIGNATURE: sign(secret, report_message(report))}
