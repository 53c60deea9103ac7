"""Users of the web UI, their roles and what each role may do, and the API tokens scripts
use instead of a cookie."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import UTCDateTime, utcnow

# Permissions: what a route (web/access.py) or an SSE channel asks of the signed-in user.
BAIXAS = "baixas"                          # the baixas page: scan feed, history, undos
BAIXAS_ESTORNAR = "baixas.estornar"        # undo a write-off
BAIXAS_REENVIAR = "baixas.reenviar"        # the baixa dead letters and their replay
COMPROVANTES = "comprovantes"              # upload receipts and read one's own
COMPROVANTES_TODOS = "comprovantes.todos"  # read everyone's receipts
COMPROVANTES_REVISAR = "comprovantes.revisar"  # the review queue: see the file, correct, confirm
CARTEIRA = "carteira"                      # the carteira page and ruptura analyses
DISPOSITIVOS = "dispositivos"              # the Pi fleet's health
DISPOSITIVOS_LIMITES = "dispositivos.limites"  # set a device's own health limits
SYNC = "sync"                              # sync page: runs, history, rejected rows
SYNC_EXECUTAR = "sync.executar"            # start a sync, replay rejected rows
CONSINCO = "consinco"                      # Consinco source rows without personal data
DADOS_PESSOAIS = "dados_pessoais"          # Consinco clientes: CPF, phone, birth date
USUARIOS = "usuarios"                      # users, roles and tokens
AUDITORIA = "auditoria"                    # the audit trail
FLOWER = "flower"                          # Celery's Flower (revokes and runs tasks)
FALHAS = "falhas"                          # the operations overview and every area's dead letters
FALHAS_TRATAR = "falhas.tratar"            # replay or discard any dead letter
ALERTAS = "alertas"                        # the alert history
ALERTAS_CONFIGURAR = "alertas.configurar"  # alert rules and recipients

PERMISSIONS = frozenset({
    BAIXAS, BAIXAS_ESTORNAR, BAIXAS_REENVIAR, COMPROVANTES, COMPROVANTES_TODOS,
    COMPROVANTES_REVISAR, CARTEIRA,
    DISPOSITIVOS, DISPOSITIVOS_LIMITES, SYNC, SYNC_EXECUTAR, CONSINCO, DADOS_PESSOAIS, USUARIOS,
    AUDITORIA, FLOWER,
    FALHAS, FALHAS_TRATAR, ALERTAS, ALERTAS_CONFIGURAR})

LOJA, FINANCEIRO, TI, ADMIN = "loja", "financeiro", "ti", "admin"
# Each role's permissions (docs/access.md is this table in words). Least privilege: a user
# created without a role is store staff.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    LOJA: frozenset({BAIXAS, COMPROVANTES}),
    FINANCEIRO: frozenset({COMPROVANTES, COMPROVANTES_TODOS, COMPROVANTES_REVISAR, CARTEIRA}),
    TI: frozenset({BAIXAS, BAIXAS_REENVIAR, DISPOSITIVOS, DISPOSITIVOS_LIMITES, SYNC,
                   SYNC_EXECUTAR, CONSINCO,
                   FALHAS, FALHAS_TRATAR, ALERTAS}),
    ADMIN: PERMISSIONS,
}
ROLES = tuple(ROLE_PERMISSIONS)
ROLE_LABELS = {LOJA: "Loja", FINANCEIRO: "Financeiro", TI: "TI / operação", ADMIN: "Administrador"}
DEFAULT_ROLE = LOJA


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=DEFAULT_ROLE, server_default=DEFAULT_ROLE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def can(self, permission: str) -> bool:
        """Whether this user's role grants the permission."""
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    # Flask-Login's protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    """A bearer token for scripts; only its SHA-256 is stored. It acts with its user's role
    until it expires or is revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
