"""Demo data so every page shows something on a laptop. Idempotent: loads only what is missing.

Each area adds its loader to DEMO_LOADERS ("module:function", called with a Session).
"""
from __future__ import annotations

import importlib
import logging
import random
import secrets
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Produto, User
from core.models.types import utcnow
from core.settings import get_settings

log = logging.getLogger(__name__)

DEMO_STORES = ("LOJA-001", "LOJA-002", "LOJA-003")
PRODUCT_WORDS = ("Arroz", "Feijão", "Café", "Açúcar", "Leite", "Óleo", "Macarrão", "Farinha",
                 "Sabão", "Detergente", "Biscoito", "Molho", "Azeite", "Sal", "Vinagre")

DEMO_LOADERS: list[str] = [
    "core.demo:load_produtos",
    "core.baixa.demo:load_demo",
    "core.ruptura.demo:load_carteira",
    "core.health.demo:load_devices",
    "core.consinco.demo:load_consinco",
]


def load_produtos(session: Session) -> str:
    """~1,000 products per demo store in tb_produto (ids 1001..), once."""
    if session.scalar(select(func.count()).select_from(Produto)):
        return "tb_produto já tem dados"
    rng = random.Random(2026)
    now = utcnow()
    rows = []
    for store_index, store in enumerate(DEMO_STORES):
        for n in range(1000):
            word = rng.choice(PRODUCT_WORDS)
            rows.append(Produto(
                id=1001 + store_index * 100_000 + n, store_key=store,
                descricao=f"{word} {rng.choice(['1kg', '500g', '2L', '1L', '5kg', 'un'])}",
                codigo_barras=f"789{rng.randrange(10**9, 10**10)}",
                preco=Decimal(rng.randrange(199, 5999)) / 100,
                lote=f"L{rng.randrange(1000, 9999)}",
                validade=now + timedelta(days=rng.randrange(-10, 365)),
                created_at=now - timedelta(days=rng.randrange(0, 90))))
    session.add_all(rows)
    return f"{len(rows)} produtos em {len(DEMO_STORES)} lojas"


def ensure_demo_user() -> tuple[str, str | None]:
    """Create the 'demo' admin once; return (username, password) - password only when new.

    The password is random per machine and kept in var/demo-login.txt (never in the repo).
    """
    from web.auth import create_user

    settings = get_settings()
    login_file = Path(settings.var_dir) / "demo-login.txt"
    with session_scope() as session:
        exists = session.scalar(select(User).where(User.username == "demo")) is not None
    if exists and login_file.exists():
        return "demo", login_file.read_text().split(":", 1)[1].strip()
    password = secrets.token_urlsafe(9)
    create_user("demo", password, name="Usuário Demo", is_admin=True)
    login_file.parent.mkdir(parents=True, exist_ok=True)
    login_file.write_text(f"demo:{password}\n")
    login_file.chmod(0o600)
    return "demo", password


def load_all(progress: Callable[[str], None] = print) -> None:
    """Run every area's demo loader, each in its own transaction."""
    for spec in DEMO_LOADERS:
        module_name, attr = spec.split(":")
        loader = getattr(importlib.import_module(module_name), attr)
        with session_scope() as session:
            progress(f"demo {spec}: {loader(session)}")
