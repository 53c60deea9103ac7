"""Baixa demo data (core.demo.DEMO_LOADERS): the demo stores' products and a week of scans
per store, some rejected."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.baixa.registro import write_off
from core.models import BaixaLeitura, Produto
from core.models.types import utcnow

DEMO_STORES = ("LOJA-001", "LOJA-002", "LOJA-003")
PRODUCT_WORDS = ("Arroz", "Feijão", "Café", "Açúcar", "Leite", "Óleo", "Macarrão", "Farinha",
                 "Sabão", "Detergente", "Biscoito", "Molho", "Azeite", "Sal", "Vinagre")


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


def load_demo(session: Session) -> str:
    """A week of scans per demo store, some rejected; once."""
    if session.scalar(select(BaixaLeitura.id).limit(1)) is not None:
        return "tb_baixa_leitura já tem dados"
    now, count = utcnow(), 0
    for store_index, store in enumerate(DEMO_STORES):
        first_id = 1001 + store_index * 100_000
        for n in range(20):
            when = now - timedelta(days=7) + timedelta(hours=8 * n + store_index)
            product_id = first_id + n if n % 7 else 999_000 + n  # every 7th: not in the store
            record = BaixaLeitura(
                scan_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"stockflow-demo:{store}:{n}")),
                product_id=str(product_id), store_key=store, device_id=f"pi-{store.lower()}",
                scanned_at=when - timedelta(seconds=2), processed_at=when)
            if session.get(Produto, product_id) is None and n % 7:
                continue
            write_off(session, record, product_id)
            session.add(record)
            session.flush()
            count += 1
    return f"{count} leituras de demonstração"
