"""Demo data so every page shows something on a laptop. Idempotent: loads only what is missing."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from core.baixa import demo as baixa_demo
from core.db import session_scope
from core.health import demo as health_demo
from core.ruptura import demo as ruptura_demo
from core.sync.consinco import demo as consinco_demo

# Each feature's loader, called with a Session in its own transaction; returns what it did.
DEMO_LOADERS: list[tuple[str, Callable[[Session], str]]] = [
    ("produtos", baixa_demo.load_produtos),
    ("baixa", baixa_demo.load_demo),
    ("ruptura", ruptura_demo.load_carteira),
    ("health", health_demo.load_devices),
    ("consinco", consinco_demo.load_consinco),
]


def load_all(progress: Callable[[str], None] = print) -> None:
    """Run every feature's demo loader, each in its own transaction."""
    for name, loader in DEMO_LOADERS:
        with session_scope() as session:
            progress(f"demo {name}: {loader(session)}")
