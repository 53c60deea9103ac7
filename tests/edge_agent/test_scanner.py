"""The scanner loop with a stand-in evdev device (no /dev/uinput here): grab, decode, and an
unplug (ENODEV) that is logged once and waited out while the agent keeps running."""
from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import evdev
import pytest
from evdev import InputEvent, ecodes

from edge_agent import scanner
from edge_agent.config import AgentConfig


def typed(text: str) -> list[InputEvent]:
    events = []
    for ch in text:
        code = getattr(ecodes, f"KEY_{ch}")
        events += [InputEvent(0, 0, ecodes.EV_KEY, code, 1), InputEvent(0, 0, ecodes.EV_KEY, code, 0)]
    return events + [InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_ENTER, 1)]


def test_reads_grabs_and_survives_an_unplug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    device_path = tmp_path / "event5"
    device_path.write_bytes(b"")
    stop = threading.Event()
    lines: list[str] = []
    opened: list[dict[str, Any]] = []
    # Each plug-in: what the scanner types, then the kernel's ENODEV when it is pulled out.
    sessions = [typed("1001") + typed("1002"), typed("2001")]

    class FakeDevice:
        name = "Fake QR Scanner"

        def __init__(self, path: str, readonly: bool = False) -> None:
            self._read_end, write_end = os.pipe()
            os.write(write_end, b"!")  # select() reports it readable
            os.close(write_end)
            self.fd = self._read_end
            self.events = sessions.pop(0)
            self.state = {"path": path, "readonly": readonly, "grabbed": False}
            opened.append(self.state)

        def grab(self) -> None:
            self.state["grabbed"] = True

        def read(self) -> list[InputEvent]:
            if self.events:
                batch, self.events = self.events, []
                return batch
            if not sessions:  # the second session ends the test
                stop.set()
                return []
            device_path.unlink()  # pulled out: the node goes away for a while
            threading.Timer(0.4, device_path.write_bytes, args=(b"",)).start()
            raise OSError(errno.ENODEV, "No such device")

        def close(self) -> None:
            os.close(self._read_end)

    monkeypatch.setattr(evdev, "InputDevice", FakeDevice)
    monkeypatch.setattr(scanner, "REDISCOVER_S", 0.05)
    config = AgentConfig(store_key="L", broker_url="redis://127.0.0.1:1/0", device_id="pi",
                         spool_dir=tmp_path, device_path=str(device_path))
    with caplog.at_level("INFO", logger="edge_agent.scanner"):
        thread = threading.Thread(target=scanner.Scanner(config, lines.append, stop).run)
        thread.start()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert lines == ["1001", "1002", "2001"]
    assert [o["grabbed"] for o in opened] == [True, True] and all(o["readonly"] for o in opened)
    messages = [r.message for r in caplog.records if r.levelname == "WARNING"]
    # logged once per outage, although the agent looked for the scanner several times
    assert len(messages) == 2
    assert "scanner lost (ENODEV)" in messages[0] and "does not exist" in messages[1]
