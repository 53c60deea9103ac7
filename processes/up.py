"""`make up`: migrate, load the demo data, print where everything is, then run the Procfile."""
from __future__ import annotations

import os
import shutil
import sys

from core import demo, migrate
from core.settings import ROOT, get_settings
from core.users import ensure_demo_user, refuse_demo_in_production


def main() -> None:
    settings = get_settings()
    print("stockflow: migrando o banco de dados...", flush=True)
    migrate.upgrade()
    refuse_demo_in_production()  # `make up` is for development: no demo data in production
    demo.load_all(lambda line: print(f"stockflow: {line}", flush=True))
    username, password = ensure_demo_user()
    env = dict(os.environ)
    # Procfile lines read these; the settings object already applied its defaults.
    env.update({
        "STOCKFLOW_WEB_HOST": settings.web_host, "STOCKFLOW_WEB_PORT": str(settings.web_port),
        "STOCKFLOW_FLOWER_PORT": str(settings.flower_port), "STOCKFLOW_FLOWER_HOST": settings.flower_host,
        "STOCKFLOW_RUPTURA_WORKERS": str(getattr(settings, "ruptura_workers", 2)),
        "PATH": f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    })
    base = f"http://{settings.web_host}:{settings.web_port}"
    print(f"""
stockflow: subindo web, workers, beat e flower (Ctrl-C para parar tudo)
  Web:      {base}/          login: {username} / {password}
  Prontidão: {base}/readyz
  Flower:   {base}/flower/   (administradores, pelo login do app)
  Banco:    {settings.effective_database_url}
  Redis:    {settings.effective_redis_url}{'' if settings.redis_url else ' (embutido, dados em var/redis)'}
""", flush=True)
    honcho = shutil.which("honcho", path=env["PATH"]) or "honcho"
    os.chdir(ROOT)
    os.execvpe(honcho, [honcho, "--procfile", "platform/Procfile", "--app-root", str(ROOT),
                        "start"], env)


if __name__ == "__main__":
    sys.exit(main())
