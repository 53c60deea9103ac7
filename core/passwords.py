"""The password policy: a long minimum, no common passwords, no username; and one hash check
that costs the same whether the account exists or not.

Every place that sets a password calls `check_new_password` (core/users.py create_user and
the password changes built on it); `verify` is the only password comparison of the login.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
COMMON_LIST = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
# Undo the usual letter-for-symbol swaps before looking a word up.
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                      "$": "s", "!": "i"})
SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm")


class WeakPassword(ValueError):
    """A password refused by the policy; the message (pt-BR) says why."""


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Return the shipped list of common base words (core/data/common_passwords.txt)."""
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _strip_ends(password: str) -> str:
    """The password in lowercase without the digits and symbols around it ("Senha@2024" -> "senha")."""
    return re.sub(r"^[^a-z]+|[^a-z]+$", "", password.lower())


def _is_repetition(text: str) -> bool:
    """Whether the text is one short piece repeated ("abcabcabc", "aaaaaaaa")."""
    return any(len(text) % size == 0 and text[:size] * (len(text) // size) == text
               for size in range(1, len(text) // 2 + 1))


def _is_sequence(text: str) -> bool:
    """Whether the text walks a row of the keyboard, the alphabet or the digits, either way."""
    return any(text in row * 2 or text in row[::-1] * 2 for row in SEQUENCES)


def is_common(password: str) -> bool:
    """Whether the password is a common word dressed up (digits and symbols around it,
    leetspeak, said twice), a repetition, or a keyboard, alphabet or digit walk."""
    lowered = password.lower()
    if _is_repetition(lowered) or _is_sequence(lowered):
        return True
    word = _strip_ends(password)
    if not word:
        return True  # only digits and symbols, such as a date
    words = common_words()
    plain = re.sub(r"[\s._\-]", "", word)
    leet = re.sub(r"[\s._\-]", "", word.translate(LEET))
    if any(w in words or _is_repetition(w) or _is_sequence(w) for w in (plain, leet)):
        return True
    # One common word said again after digits or symbols ("senha123senha", "admin@admin").
    pieces = {piece for piece in re.split(r"[^a-z]+", word) if piece}
    return len(pieces) == 1 and pieces <= words


def _is_username(password: str, username: str) -> bool:
    """Whether the password is the username dressed up ("Maria2024!", "mariamaria")."""
    word = re.sub(r"[\s._\-]", "", _strip_ends(password))
    name = re.sub(r"[\s._\-]", "", username.lower())
    return bool(name and word) and (word == name or (len(word) % len(name) == 0
                                            and word == name * (len(word) // len(name))))


def check_new_password(password: str, username: str = "") -> None:
    """Raise WeakPassword unless the password may be set: long enough, not common, not the
    username dressed up."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a senha precisa de pelo menos {MIN_PASSWORD_LENGTH} caracteres")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a senha pode ter no máximo {MAX_PASSWORD_LENGTH} caracteres")
    if username and _is_username(password, username):
        raise WeakPassword("a senha não pode ser o nome de usuário (com números ou símbolos)")
    if is_common(password):
        raise WeakPassword("essa senha é comum demais (ou uma sequência): escolha outra, "
                           "por exemplo três ou quatro palavras sem relação entre si")


def hash_password(password: str) -> str:
    """Return the stored form of a password (Werkzeug's salted scrypt)."""
    return generate_password_hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Made once per process with the same method as real hashes, so checking it costs the same.
    return hash_password("no account has this password")


def verify(stored_hash: str | None, password: str) -> bool:
    """Check a password against a stored hash; with no hash (no such account) check it against
    a dummy one anyway, so both answers take the same time and timing reveals no usernames."""
    dummy = _dummy_hash()  # made on the first call of either path, so neither pays it alone
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]  # the hash's cost must not grow with the input
    if stored_hash is None:
        check_password_hash(dummy, password)
        return False
    return check_password_hash(stored_hash, password)
