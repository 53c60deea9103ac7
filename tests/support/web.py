"""The web app from a test: a test client's login, and the app served over real HTTP."""
from __future__ import annotations

import threading
from typing import Any


def login(client: Any, username: str, password: str) -> None:
    """Log a Flask test client in through the login form (CSRF off in the `app` fixture)."""
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.data


class LiveServer:
    """The app on a free port of 127.0.0.1, served by a thread until stop()."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and end its live streams, so none outlives the test that opened it."""
        from web.stream_hub import hub

        hub.close_all()
        self.server.shutdown()

    def session(self, username: str = "admin", password: str = "admin-password") -> Any:
        """A requests.Session logged in through the real login form (CSRF token included)."""
        import re

        import requests

        http = requests.Session()
        page = http.get(f"{self.url}/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = http.post(f"{self.url}/login", allow_redirects=False,
                             data={"username": username, "password": password, "csrf_token": token})
        assert response.status_code == 302, response.text
        http.headers["X-CSRFToken"] = token
        return http
