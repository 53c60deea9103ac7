"""A service gone while a request runs (the database restarting, a cut link) is answered 503
with Retry-After and a pt-BR message, as JSON for API calls and as the error page for pages,
never a bare 500; once the database answers again the same requests work."""
from __future__ import annotations

from typing import Any

from tests.support.database import use_database
from tests.support.web import login

# A MariaDB address where nothing listens: connecting fails at once, as during a restart.
NOBODY_LISTENS = "mysql+mysqldb://root@127.0.0.1:1/stockflow"


def test_database_away_answers_503_then_recovers(app: Any, users: Any, db: str) -> None:
    client = app.test_client()
    login(client, "admin", "admin-password")
    use_database(NOBODY_LISTENS)
    try:
        api = client.get("/api/baixas/leituras?loja=LOJA-001")
        page = client.get("/baixas")
    finally:
        use_database(db)
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert "banco de dados" in api.get_json()["error"]
    assert page.status_code == 503 and "Serviço indisponível" in page.get_data(as_text=True)
    assert client.get("/api/baixas/leituras?loja=LOJA-001").status_code == 200
