"""Bring the database schema to the newest migration (run by `make up`, tests and deploys)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from core.settings import ROOT, get_settings


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "core" / "migrations"))
    return config


def upgrade(revision: str = "heads") -> None:
    """Run the migrations up to `revision` (every area's head), creating var/ for SQLite."""
    settings = get_settings()
    if not settings.database_url:
        Path(settings.var_dir).mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(), revision)


if __name__ == "__main__":
    upgrade()
