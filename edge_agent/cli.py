"""The command line: `run` (scanner or --stdin), `status` and `drain`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from edge_agent import systemd
from edge_agent.config import AgentConfig, ConfigError, load_config
from edge_agent.outcomes import OutcomeListener
from edge_agent.publisher import Publisher
from edge_agent.scan import Rejected, make_scan
from edge_agent.spool import Spool

log = logging.getLogger("edge_agent")

# stdin lines longer than this are cut (and then rejected as too long) so memory stays bounded.
MAX_LINE_BYTES = 64 * 1024


def configure_logging(level: str) -> None:
    """Log `[timestamp] LEVEL: message` to stderr (journald keeps it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s: %(message)s",
                                           "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("celery", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Intake:
    """Validates each read line, spools it durably, then wakes the publisher."""

    def __init__(self, config: AgentConfig, spool: Spool, publisher: Publisher,
                 echo: TextIO | None = None) -> None:
        self.config = config
        self.spool = spool
        self.publisher = publisher
        self.echo = echo
        self.rejected = 0

    def __call__(self, line: str | bytes) -> None:
        scan = make_scan(line, self.config)
        if isinstance(scan, Rejected):
            self.rejected += 1
            log.warning("scan rejected (%s): %r", scan.reason, scan.preview)
            self._echo({"accepted": False, "reason": scan.reason})
            return
        self.spool.add(scan)  # durable (fsync'd) before anything else happens
        self.publisher.wake.set()
        log.info("scan spooled product_id=%s scan_id=%s", scan["product_id"], scan["scan_id"])
        self._echo({"accepted": True, "scan_id": scan["scan_id"],
                    "product_id": scan["product_id"]})

    def _echo(self, message: dict[str, Any]) -> None:
        if self.echo is not None:
            self.echo.write(json.dumps(message) + "\n")
            self.echo.flush()


def read_stdin(intake: Intake, stop: threading.Event, fd: int = 0) -> None:
    """Feed one scan per stdin line as raw bytes (non-UTF-8 input is rejected, not crashed on).

    Reads with select() + os.read so the thread notices `stop` instead of blocking in a
    buffered readline at shutdown; a line longer than MAX_LINE_BYTES is cut there (and then
    rejected as too long) and the rest of it discarded.
    """
    buffer, discarding = b"", False
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            if buffer and not discarding:
                intake(buffer)
            log.info("stdin closed; still publishing what is spooled")
            return
        buffer += chunk
        while True:
            line, newline, rest = buffer.partition(b"\n")
            if not newline:
                if len(buffer) > MAX_LINE_BYTES:
                    if not discarding:
                        intake(buffer[:MAX_LINE_BYTES])
                    buffer, discarding = b"", True
                break
            buffer = rest
            if discarding:
                discarding = False
            else:
                intake(line.rstrip(b"\r"))


def _thread(name: str, target: Callable[[], None], failed: threading.Event) -> threading.Thread:
    def guarded() -> None:
        try:
            target()
        except Exception:  # noqa: BLE001 - a dead thread must stop the agent, loudly
            log.exception("%s thread crashed; stopping so systemd restarts the agent", name)
            failed.set()

    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


def run(config: AgentConfig, use_stdin: bool) -> int:
    """Run the agent until SIGTERM/SIGINT; return the process exit code."""
    from edge_agent.scanner import Scanner, check_permission

    if not use_stdin:
        check_permission(config)
    spool = open_spool(config)
    publisher = Publisher(config, spool)
    intake = Intake(config, spool, publisher, echo=sys.stdout if use_stdin else None)
    stop, failed = threading.Event(), threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    log.info("edge agent starting store_key=%s device_id=%s spool=%s (depth %d) broker=%s",
             config.store_key, config.device_id, config.spool_path, spool.depth(),
             _redact(config.broker_url))
    # `threads` must stay alive for the watchdog; stdin may end (EOF) while the agent goes on.
    listener = OutcomeListener(config, spool)
    threads = [_thread("publisher", lambda: publisher.run(stop), failed),
               _thread("outcomes", lambda: listener.run(stop), failed)]
    if use_stdin:
        reader = _thread("stdin", lambda: read_stdin(intake, stop), failed)
    else:
        reader = _thread("scanner", Scanner(config, intake, stop).run, failed)
        threads.append(reader)
    health = _start_health(config, spool, stop)

    systemd.notify("READY=1")
    interval = systemd.watchdog_interval_s()
    while not stop.wait(min(interval or 5.0, 5.0)):
        if failed.is_set():
            break
        if interval and all(t.is_alive() for t in threads):
            systemd.notify("WATCHDOG=1")  # only while every loop is alive
    systemd.notify("STOPPING=1")
    stop.set()
    publisher.wake.set()
    for thread in {*threads, reader, *([health] if health else [])}:
        thread.join(timeout=config.publish_timeout_s + 2)  # before the spool closes
    log.info("edge agent stopped; %d scan(s) left in the spool", spool.depth())
    spool.close()
    return 1 if failed.is_set() else 0


def _start_health(config: AgentConfig, spool: Spool,
                  stop: threading.Event) -> threading.Thread | None:
    """Start edge_agent.health's reporter when that module is installed; return its thread."""
    try:
        from edge_agent import health
    except ImportError:
        return None
    start_reporter = getattr(health, "start_reporter", None)
    if start_reporter is None:
        return None
    try:
        thread = start_reporter(config, spool, stop)
    except Exception:  # noqa: BLE001 - scanning matters more than health reports
        log.exception("health reporter failed to start; scanning continues")
        return None
    return thread if isinstance(thread, threading.Thread) else None


def _redact(url: str) -> str:
    """Hide a password in a broker URL before logging it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _iso(epoch: str | None) -> str | None:
    return datetime.fromtimestamp(float(epoch), timezone.utc).isoformat() if epoch else None


def open_spool(config: AgentConfig) -> Spool:
    """Open the spool, or raise ConfigError (a directory the agent cannot write, a full disk:
    restarting will not help, a person must)."""
    try:
        return Spool(config.spool_path)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"spool {config.spool_path} cannot be opened: {exc}") from None


def status(config: AgentConfig) -> dict[str, Any]:
    """Return the spool (scans waiting to be sent, waiting for their outcome, the oldest),
    the last publish and outcome, and whether the broker answers now."""
    spool = open_spool(config)
    try:
        publisher = Publisher(config, spool)
        reachable = publisher.broker_reachable()
        oldest = spool.oldest()
        unsent, waiting = spool.counts()
        return {
            "store_key": config.store_key, "device_id": config.device_id,
            "spool": str(config.spool_path), "spool_depth": unsent + waiting,
            "waiting_to_send": unsent, "waiting_for_outcome": waiting,
            "oldest_scan": oldest,
            "oldest_age_s": (round(time.time() - datetime.fromisoformat(
                oldest["scanned_at"]).timestamp(), 1) if oldest else None),
            "last_publish_at": _iso(spool.get_meta("last_publish_at")),
            "last_outcome_at": _iso(spool.get_meta("last_outcome_at")),
            "broker_reachable": reachable, "broker": _redact(config.broker_url),
        }
    finally:
        spool.close()


def drain(config: AgentConfig, wait_s: float) -> tuple[int, int]:
    """Send every scan held now (their resend time or not), then wait up to `wait_s` for their
    outcomes; return (sent, still in the spool)."""
    spool = open_spool(config)
    try:
        publisher = Publisher(config, spool)
        try:
            sent = publisher.publish_pending(everything=True)
        except Exception as exc:  # noqa: BLE001 - reported, the scans stay spooled
            log.error("drain stopped: broker unreachable (%s: %s)", type(exc).__name__, exc)
            return 0, spool.depth()
        stop = threading.Event()
        listener = threading.Thread(target=OutcomeListener(config, spool).run, args=(stop,),
                                    name="outcomes", daemon=True)
        listener.start()
        deadline = time.monotonic() + wait_s
        while spool.depth() and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        listener.join(timeout=config.publish_timeout_s + 2)  # before the spool closes
        return sent, spool.depth()
    finally:
        spool.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m edge_agent",
                                     description="Stockflow edge agent (QR scanner -> baixa)")
    parser.add_argument("--printers-json", type=Path, help="path of printers.json (store_key)")
    parser.add_argument("--spool-dir", type=Path, help="directory of the durable spool")
    parser.add_argument("--broker-url", help="Celery broker URL (redis://... or amqp://...)")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="read scans and publish them")
    run_parser.add_argument("--stdin", action="store_true",
                            help="read one scan per stdin line instead of the evdev scanner")
    run_parser.add_argument("--device", help="scanner path, e.g. /dev/input/by-id/usb-...")
    status_parser = commands.add_parser("status", help="spool depth, oldest scan, broker")
    status_parser.add_argument("--json", action="store_true", help="print JSON")
    drain_parser = commands.add_parser(
        "drain", help="send the spool now, wait for the outcomes; exit 1 if scans remain")
    drain_parser.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                              help="how long to wait for the outcomes (default 30)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m edge_agent`; returns the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging("INFO")
    try:
        config = load_config(printers_json=args.printers_json, spool_dir=args.spool_dir,
                             broker_url=args.broker_url, device=getattr(args, "device", None))
        configure_logging(config.log_level)
        if args.command == "run":
            return run(config, args.stdin)
        if args.command == "status":
            report = status(config)
            if args.json:
                print(json.dumps(report, default=str))
            else:
                for key, value in report.items():
                    print(f"{key}: {value}")
            return 0
        sent, left = drain(config, args.wait)
        print(f"sent {sent}, left in spool {left}")
        return 0 if left == 0 else 1
    except ConfigError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except PermissionError as exc:
        log.error("permission denied: %s", exc)
        return ConfigError.exit_code
