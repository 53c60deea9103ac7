"""What can go wrong while reading a receipt, split by whether trying again can help."""
from __future__ import annotations


class OcrError(Exception):
    """Reading failed; str(exc) is a pt-BR message the user sees. Not worth retrying."""


class OcrUnavailable(OcrError):
    """The OCR service failed transiently (5xx, timeout, connection): retry with backoff."""


class UnreadableReceipt(OcrError):
    """The file itself cannot be read (no text found, corrupt): retrying cannot help."""
