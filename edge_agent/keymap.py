"""Decode a keyboard-like scanner's key events into the lines it types (evdev key codes)."""
from __future__ import annotations

from evdev import ecodes

# key code -> (plain, shifted), US layout: what USB QR scanners emulate by default.
_ROWS = {
    "1234567890": "!@#$%^&*()",
    "-=[];'`\\,./": "_+{}:\"~|<>?",
}
_NAMED = {
    "-": "MINUS", "=": "EQUAL", "[": "LEFTBRACE", "]": "RIGHTBRACE", ";": "SEMICOLON",
    "'": "APOSTROPHE", "`": "GRAVE", "\\": "BACKSLASH", ",": "COMMA", ".": "DOT", "/": "SLASH",
}


def _build_keymap() -> dict[int, tuple[str, str]]:
    keymap: dict[int, tuple[str, str]] = {}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        keymap[getattr(ecodes, f"KEY_{letter.upper()}")] = (letter, letter.upper())
    for plain_row, shifted_row in _ROWS.items():
        for plain, shifted in zip(plain_row, shifted_row):
            name = _NAMED.get(plain, plain)
            keymap[getattr(ecodes, f"KEY_{name}")] = (plain, shifted)
    keymap[ecodes.KEY_SPACE] = (" ", " ")
    keymap[ecodes.KEY_TAB] = ("\t", "\t")
    for digit in "0123456789":
        keymap[getattr(ecodes, f"KEY_KP{digit}")] = (digit, digit)
    for code, char in ((ecodes.KEY_KPMINUS, "-"), (ecodes.KEY_KPPLUS, "+"),
                       (ecodes.KEY_KPASTERISK, "*"), (ecodes.KEY_KPSLASH, "/"),
                       (ecodes.KEY_KPDOT, ".")):
        keymap[code] = (char, char)
    return keymap


KEYMAP = _build_keymap()
SHIFT_KEYS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
ENTER_KEYS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER})
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2
# A key the map does not know stays visible, so validation rejects the line with a reason.
UNKNOWN = "\ufffd"


class KeyDecoder:
    """Feed evdev events one by one; feed() returns the finished line when Enter goes down.

    Shift (either side) is tracked across events; key repeats (value 2) are ignored, since a
    scanner never holds a key and a repeat would duplicate a digit; a line longer than
    `max_chars` is truncated there (validation rejects it anyway) so memory stays bounded.
    """

    def __init__(self, max_chars: int = 4096) -> None:
        self.max_chars = max_chars
        self._chars: list[str] = []
        self._shift_down: set[int] = set()

    def feed(self, event: object) -> str | None:
        """Consume one event; return the completed line at Enter, else None."""
        if getattr(event, "type", None) != ecodes.EV_KEY:
            return None
        code, value = event.code, event.value  # type: ignore[attr-defined]
        if code in SHIFT_KEYS:
            if value == KEY_DOWN:
                self._shift_down.add(code)
            elif value == KEY_UP:
                self._shift_down.discard(code)
            return None
        if value != KEY_DOWN:
            return None
        if code in ENTER_KEYS:
            line, self._chars = "".join(self._chars), []
            return line
        if len(self._chars) < self.max_chars:
            plain, shifted = KEYMAP.get(code, (UNKNOWN, UNKNOWN))
            self._chars.append(shifted if self._shift_down else plain)
        return None
