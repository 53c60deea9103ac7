"""Demo history (core.demo.DEMO_LOADERS): a week of scans per demo store, some rejected."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.baixa.registro import write_off
from core.demo import DEMO_STORES
from core.models import BaixaLeitura, Produto
from core.models.types import utcnow


def load_demo(session: Session) -> str:
    """Demo history (core.demo): a week of scans per demo store, some rejected; once."""
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
