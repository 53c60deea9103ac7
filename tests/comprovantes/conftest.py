"""Fixtures of the receipts tests: settings switches, the Vision stand-in, the offline engine."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import reset_settings


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set STOCKFLOW_* settings for one test: configure(company_cnpj="...")."""

    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"STOCKFLOW_{name.upper()}", str(value))
        reset_settings()

    yield apply
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def standin() -> Iterator[Any]:
    """The local Google Vision stand-in, answering on a free port."""
    from standins.vision import VisionStandIn

    server = VisionStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def offline_engine() -> Any:
    """One offline OCR engine for the session (model loading takes a moment)."""
    from core.comprovantes.ocr.engines import OfflineEngine

    return OfflineEngine(threads=1)


@pytest.fixture(scope="session")
def tesseract_engine() -> Any:
    """The tesseract engine (platform/bootstrap.sh installs tesseract-ocr and tesseract-ocr-por)."""
    from core.comprovantes.ocr.engines import TesseractEngine

    return TesseractEngine()
