"""Payment receipts (comprovantes): the stored upload, its OCR job and the PIX fields read from it."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import JSONType, UTCDateTime, utcnow

# Receipt life cycle: stored -> OCR running -> fields saved, or a readable error.
RECEBIDO, PROCESSANDO, CONCLUIDO, ERRO = "recebido", "processando", "concluido", "erro"
# Review by finance staff: null (nothing doubtful), waiting for a person, or confirmed by one.
REVISAO_PENDENTE, REVISAO_CONFIRMADA = "pendente", "confirmado"


class Comprovante(Base):
    __tablename__ = "comprovantes"
    __table_args__ = (UniqueConstraint("sha256", name="uq_comprovantes_sha256"),
                      Index("uq_comprovantes_e2e_original", "e2e_original", unique=True))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The order (pedido) this payment is for, as the user typed it.
    pedido: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    nome_original: Mapped[str] = mapped_column(String(255))
    # Path relative to the uploads folder: a random name, never the user's.
    nome_armazenado: Mapped[str] = mapped_column(String(128))
    # The same file uploaded twice (even at once) is one receipt: the database decides.
    sha256: Mapped[str] = mapped_column(String(64))
    tamanho: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=RECEBIDO, index=True)
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # "google", "offline" or "pdf_texto" (the PDF's own text layer, no OCR).
    motor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    texto: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Every field the parser returned (see core/comprovantes/pix.py), JSON-ready.
    campos: Mapped[Any] = mapped_column(JSONType, nullable=True)
    valor: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    # Local time printed on the receipt (ISO 8601 without zone: banks print Brasília time).
    data_hora: Mapped[str | None] = mapped_column(String(19), nullable=True)
    id_transacao: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    recebedor_nome: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recebedor_documento: Mapped[str | None] = mapped_column(String(20), nullable=True)
    validacao_recebedor: Mapped[Any] = mapped_column(JSONType, nullable=True)
    erro: Mapped[str | None] = mapped_column(Text, nullable=True)
    uploaded_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    processado_em: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revisao: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    # Why it waits for a person (pt-BR sentences), kept after the review for the record.
    revisao_motivos: Mapped[Any] = mapped_column(JSONType, nullable=True)
    revisado_por: Mapped[str | None] = mapped_column(String(80), nullable=True)
    revisado_em: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # field -> {"antes", "depois"} of the last confirmed review (the audit trail keeps them all).
    correcoes: Mapped[Any] = mapped_column(JSONType, nullable=True)
    # One payment, one receipt: the first receipt read with an E2E id holds it here (UNIQUE,
    # NULL for everyone else), so the database decides between two read at the same moment;
    # a later receipt of the same payment points at the holder in duplicado_de.
    e2e_original: Mapped[str | None] = mapped_column(String(32), nullable=True)
    duplicado_de: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
