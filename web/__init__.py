"""Flask web UI and API. `flask --app web ...` and gunicorn's `web:create_app()` start here."""
from web.app import create_app

__all__ = ["create_app"]
