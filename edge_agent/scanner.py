"""Read the QR scanner with evdev: find it, grab it, block in the kernel until keys arrive.

The read loop sleeps in select() (no CPU while idle). An unplugged scanner (ENODEV) or one
udev has not yet given to group `input` (EACCES) is logged once and waited for; the rest of
the agent (publisher, health) keeps running meanwhile.
"""
from __future__ import annotations

import errno
import glob
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from edge_agent.config import AgentConfig, DevicePermissionError
from edge_agent.keymap import KeyDecoder

log = logging.getLogger("edge_agent.scanner")

INPUT_DIR = "/dev/input"
# How often a missing scanner is looked for again; a stat() per device, negligible CPU.
REDISCOVER_S = 2.0
# select() timeout, only so a stop request is noticed.
STOP_CHECK_S = 1.0


class DeviceUnavailable(Exception):
    """The scanner is not there or not readable right now (it may come back)."""


def _matches(device: Any, config: AgentConfig) -> bool:
    if config.device_vendor_product is not None:
        vendor, product = config.device_vendor_product
        return bool(device.info.vendor == vendor and device.info.product == product)
    if config.device_name is not None:
        return config.device_name.lower() in str(device.name).lower()
    return False


def find_device_path(config: AgentConfig) -> str:
    """Return the event device path of the configured scanner, or raise DeviceUnavailable."""
    import evdev

    if config.device_path:
        path = os.path.realpath(config.device_path)  # by-id links point at eventN
        if not os.path.exists(path):
            raise DeviceUnavailable(f"{config.device_path} does not exist")
        if not os.access(path, os.R_OK):
            raise DeviceUnavailable(f"{config.device_path} is not readable (EACCES)")
        return path
    if config.device_vendor_product is None and config.device_name is None:
        raise DeviceUnavailable("no scanner configured (STOCKFLOW_AGENT_DEVICE, "
                                "_DEVICE_VENDOR_PRODUCT or _DEVICE_NAME)")
    for path in sorted(evdev.list_devices(INPUT_DIR, writable=False)):
        try:
            device = evdev.InputDevice(path, readonly=True)
        except OSError:
            continue
        try:
            if _matches(device, config):
                return path
        finally:
            device.close()
    raise DeviceUnavailable("no input device matches "
                            f"{config.device_vendor_product or config.device_name!r}")


def check_permission(config: AgentConfig, sleep: Callable[[float], None] = time.sleep) -> None:
    """Raise DevicePermissionError when the scanner exists but stays unreadable past the grace
    period (udev may still be applying the group at boot); an absent scanner is fine."""
    deadline = time.monotonic() + config.device_permission_grace_s
    while True:
        if config.device_path:
            path = os.path.realpath(config.device_path)
            blocked = os.path.exists(path) and not os.access(path, os.R_OK)
            what = config.device_path
        else:
            present = glob.glob(f"{INPUT_DIR}/event*")
            blocked = bool(present) and not any(os.access(p, os.R_OK) for p in present)
            what = f"{INPUT_DIR}/event*"
        if not blocked:
            return
        if time.monotonic() >= deadline:
            raise DevicePermissionError(
                f"{what} is not readable by uid {os.getuid()}: add the user to group 'input' "
                "(SupplementaryGroups=input in the unit) or install the udev rule")
        sleep(0.5)


class Scanner:
    """Turns the scanner's key events into lines and hands each one to `on_line`."""

    def __init__(self, config: AgentConfig, on_line: Callable[[str], None],
                 stop: threading.Event) -> None:
        self.config = config
        self.on_line = on_line
        self.stop = stop
        self._last_problem: str | None = None

    def run(self) -> None:
        """Read scans until `stop` is set, waiting out unplugged or unreadable scanners."""
        while not self.stop.is_set():
            try:
                self._read_device(find_device_path(self.config))
            except DeviceUnavailable as exc:
                self._problem(f"scanner unavailable, waiting for it: {exc}")
                self.stop.wait(REDISCOVER_S)
            except OSError as exc:
                if exc.errno in (errno.ENODEV, errno.ENOENT, errno.EACCES, errno.EPERM,
                                 errno.EBUSY, errno.EIO):
                    self._problem(f"scanner lost ({errno.errorcode.get(exc.errno or 0, exc)}), "
                                  "waiting for it to come back")
                    self.stop.wait(REDISCOVER_S)
                else:
                    raise

    def _problem(self, message: str) -> None:
        # Log a problem once, not every REDISCOVER_S while it lasts.
        if message != self._last_problem:
            log.warning(message)
            self._last_problem = message

    def _read_device(self, path: str) -> None:
        import evdev

        device = evdev.InputDevice(path, readonly=True)  # reading and EVIOCGRAB need no more
        try:
            if self.config.device_grab:
                device.grab()  # scans must not type into the console
            log.info("reading scanner %s (%s)", path, device.name)
            self._last_problem = None
            decoder = KeyDecoder()
            while not self.stop.is_set():
                ready, _, _ = select.select([device.fd], [], [], STOP_CHECK_S)
                if not ready:
                    continue
                try:
                    events = list(device.read())
                except BlockingIOError:
                    continue
                for event in events:
                    line = decoder.feed(event)
                    if line is not None:
                        self.on_line(line)
        finally:
            try:
                device.close()
            except OSError:
                pass
