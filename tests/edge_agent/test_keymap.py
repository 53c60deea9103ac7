"""Key events, built with evdev's own InputEvent and ecodes, decode to the scanned lines."""
from __future__ import annotations

from evdev import InputEvent, ecodes

from edge_agent.keymap import UNKNOWN, KeyDecoder

DOWN, UP, REPEAT = 1, 0, 2


def key(code: int, value: int) -> InputEvent:
    return InputEvent(1700000000, 0, ecodes.EV_KEY, code, value)


def syn() -> InputEvent:
    return InputEvent(1700000000, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0)


def tap(code: int) -> list[InputEvent]:
    """A key press as a scanner sends it: down, SYN, up, SYN."""
    return [key(code, DOWN), syn(), key(code, UP), syn()]


def shifted(code: int, shift: int = ecodes.KEY_LEFTSHIFT) -> list[InputEvent]:
    return [key(shift, DOWN), *tap(code), key(shift, UP)]


def decode(events: list[InputEvent]) -> list[str]:
    decoder = KeyDecoder()
    return [line for event in events if (line := decoder.feed(event)) is not None]


def digits(text: str) -> list[InputEvent]:
    return [e for ch in text for e in tap(getattr(ecodes, f"KEY_{ch}"))]


def test_digits_end_at_enter() -> None:
    assert decode(digits("1001") + tap(ecodes.KEY_ENTER)) == ["1001"]


def test_keypad_digits_and_keypad_enter() -> None:
    events = [e for c in (ecodes.KEY_KP4, ecodes.KEY_KP2) for e in tap(c)] + tap(ecodes.KEY_KPENTER)
    assert decode(events) == ["42"]


def test_shift_gives_upper_case_and_symbols_on_either_side() -> None:
    events = (shifted(ecodes.KEY_Q) + tap(ecodes.KEY_R) + shifted(ecodes.KEY_MINUS)
              + shifted(ecodes.KEY_1, ecodes.KEY_RIGHTSHIFT) + tap(ecodes.KEY_SLASH)
              + tap(ecodes.KEY_ENTER))
    assert decode(events) == ["Qr_!/"]


def test_shift_released_applies_no_more() -> None:
    events = shifted(ecodes.KEY_A) + tap(ecodes.KEY_A) + tap(ecodes.KEY_ENTER)
    assert decode(events) == ["Aa"]


def test_key_repeats_are_ignored() -> None:
    events = [key(ecodes.KEY_7, DOWN), key(ecodes.KEY_7, REPEAT), key(ecodes.KEY_7, REPEAT),
              key(ecodes.KEY_7, UP)] + digits("8") + tap(ecodes.KEY_ENTER)
    assert decode(events) == ["78"]


def test_enter_repeat_does_not_emit_an_empty_scan() -> None:
    events = digits("5") + [key(ecodes.KEY_ENTER, DOWN), key(ecodes.KEY_ENTER, REPEAT),
                            key(ecodes.KEY_ENTER, UP)]
    assert decode(events) == ["5"]


def test_several_scans_in_one_stream() -> None:
    events = digits("12") + tap(ecodes.KEY_ENTER) + digits("34") + tap(ecodes.KEY_ENTER)
    assert decode(events) == ["12", "34"]


def test_unknown_key_stays_visible_so_validation_rejects_it() -> None:
    assert decode(digits("1") + tap(ecodes.KEY_F5) + tap(ecodes.KEY_ENTER)) == ["1" + UNKNOWN]


def test_non_key_events_are_ignored() -> None:
    events = [InputEvent(0, 0, ecodes.EV_MSC, ecodes.MSC_SCAN, 458782)] + digits("9") \
        + tap(ecodes.KEY_ENTER)
    assert decode(events) == ["9"]


def test_an_endless_line_stays_bounded() -> None:
    decoder = KeyDecoder(max_chars=100)
    for event in digits("1") * 10_000:
        assert decoder.feed(event) is None
    assert decoder.feed(key(ecodes.KEY_ENTER, DOWN)) == "1" * 100
