"""One log format for every server process: timestamp, level, logger, key=value message."""
from __future__ import annotations

import logging
import sys

from core.settings import get_settings

FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """Send logs to stderr (journald/honcho collect them) at the configured level."""
    root = logging.getLogger()
    if any(getattr(h, "_stockflow", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._stockflow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(get_settings().log_level.upper())
    # Alembic announces its plugins at INFO whenever it is imported; that is not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
