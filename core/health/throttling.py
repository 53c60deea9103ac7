"""The Pi firmware's power and throttling word (`vcgencmd get_throttled`, or sysfs
`soc:firmware/get_throttled`): which conditions hold now and which happened since boot.

Bits 0-3 are the state now, bits 16-19 the same conditions "has occurred since boot". The
report carries the word as an integer (`throttled`, 0..0xFFFFFFFF); bits the firmware does
not document are kept in the stored word and ignored here.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_WORD = 0xFFFFFFFF
SINCE_BOOT_SHIFT = 16


@dataclass(frozen=True)
class Condition:
    """One firmware condition: its bit (now; since boot is 16 higher) and its pt-BR names."""

    key: str
    bit: int
    now_label: str
    since_boot_label: str


CONDITIONS = (
    Condition("subtensao", 0, "Subtensão agora", "Houve subtensão desde a inicialização"),
    Condition("frequencia_limitada", 1, "Frequência da CPU limitada agora",
              "Frequência da CPU foi limitada desde a inicialização"),
    Condition("estrangulado", 2, "CPU estrangulada agora",
              "CPU foi estrangulada desde a inicialização"),
    Condition("limite_temperatura", 3, "Limite suave de temperatura ativo agora",
              "Limite suave de temperatura foi atingido desde a inicialização"),
)


def decode(word: int | None) -> dict[str, list[str]] | None:
    """Return {"agora": [keys], "desde_boot": [keys]} of the conditions set in the word
    (None when the device does not report it)."""
    if word is None:
        return None
    return {"agora": [c.key for c in CONDITIONS if word >> c.bit & 1],
            "desde_boot": [c.key for c in CONDITIONS if word >> (c.bit + SINCE_BOOT_SHIFT) & 1]}


def problems(word: int | None) -> list[str]:
    """Return the power problems in words for the fleet page: a condition now, or one that
    happened since boot (a marginal power supply) and does not hold now."""
    state = decode(word)
    if state is None:
        return []
    found = [c.now_label for c in CONDITIONS if c.key in state["agora"]]
    found += [c.since_boot_label for c in CONDITIONS
              if c.key in state["desde_boot"] and c.key not in state["agora"]]
    return found

