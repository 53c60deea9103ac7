"""Brazilian identifiers on receipts: CPF/CNPJ (full or masked, check digits verified) and PIX keys."""
from __future__ import annotations

import re
from dataclasses import dataclass

MASK_CHARS = "*•·xX"
# ASCII digits only ([0-9], never \d): other scripts' digits are not a document or a phone.
_M = f"[0-9{re.escape(MASK_CHARS)}]"
CPF_RE = re.compile(rf"(?<![0-9/]){_M}{{3}}\s?\.\s?{_M}{{3}}\s?\.\s?{_M}{{3}}\s?-\s?{_M}{{2}}(?![0-9/])")
CNPJ_RE = re.compile(rf"(?<![0-9]){_M}{{2}}\s?\.\s?{_M}{{3}}\s?\.\s?{_M}{{3}}\s?/\s?{_M}{{4}}\s?-\s?{_M}{{2}}(?![0-9])")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE_RE = re.compile(r"\+?\s?55\s?\(?[0-9]{2}\)?\s?9?[0-9]{4}[\s-]?[0-9]{4}")
EVP_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# Masked documents as OCR often returns them: mask signs misread or lost ("·.951.630-*.",
# "***463.524**", ".773.976/0001--"). Only the shown digits matter; they are printed back in
# the canonical mask. Used on a labelled document's value only (find_documento strict=False).
_MASKISH = r"*•·xX+.,'\"º°~-"
_LOOSE_CPF_RE = re.compile(rf"(?<![0-9/])([{re.escape(_MASKISH)}]*)\s?([0-9]{{3}})\s?[.,]?\s?([0-9]{{3}})\s?"
                           rf"([{re.escape(_MASKISH)}]*)(?![0-9/])")
_LOOSE_CNPJ_RE = re.compile(rf"(?<![0-9])([{re.escape(_MASKISH)}]*)\s?([0-9]{{3}})\s?[.,]?\s?([0-9]{{3}})\s?/\s?"
                            rf"([0-9]{{4}})\s?([{re.escape(_MASKISH)}]*)(?![0-9])")
_MASK_SIGNS = set("*•·xX+")


@dataclass(frozen=True)
class Documento:
    numero: str      # as printed, masks normalised to '*', e.g. ***.123.456-**
    tipo: str        # "cpf" | "cnpj"
    mascarado: bool

    @property
    def digits(self) -> str:
        return re.sub(r"[^0-9]", "", self.numero)


def _dv(digits: str, weights: list[int]) -> int:
    rest = sum(int(d) * w for d, w in zip(digits, weights)) % 11
    return 0 if rest < 2 else 11 - rest


def cpf_valid(digits: str) -> bool:
    """True when an 11-digit CPF has the right check digits (and is not one repeated digit)."""
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    return (_dv(digits[:9], list(range(10, 1, -1))) == int(digits[9])
            and _dv(digits[:10], list(range(11, 1, -1))) == int(digits[10]))


def cnpj_valid(digits: str) -> bool:
    """True when a 14-digit CNPJ has the right check digits."""
    if len(digits) != 14 or len(set(digits)) == 1:
        return False
    first = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    return (_dv(digits[:12], first) == int(digits[12])
            and _dv(digits[:13], [6] + first) == int(digits[13]))


def _normalise(raw: str) -> str:
    out = re.sub(r"\s", "", raw)
    return re.sub(f"[{re.escape(MASK_CHARS)}]", "*", out)


def find_documento(text: str, strict: bool = True) -> Documento | None:
    """Return the first CPF/CNPJ in the text: masked as printed, or full with valid check digits
    (`strict=False`: a full number whose check digits fail too, for checks.py to correct)."""
    for pattern, tipo, valid in ((CNPJ_RE, "cnpj", cnpj_valid), (CPF_RE, "cpf", cpf_valid)):
        for match in pattern.finditer(text):
            numero = _normalise(match.group())
            masked = "*" in numero
            digits = re.sub(r"[^0-9]", "", numero)
            if masked and len(digits) >= 3:
                return Documento(numero, tipo, True)
            if not masked and (valid(digits) or not strict):
                return Documento(numero, tipo, False)
    if not strict:
        # "ddd.ddd/dddd" is a CNPJ's shape: any mask remnant around it will do
        if (match := _LOOSE_CNPJ_RE.search(text)) and (match.group(1) or match.group(5)):
            return Documento(f"**.{match.group(2)}.{match.group(3)}/{match.group(4)}-**", "cnpj", True)
        if (match := _LOOSE_CPF_RE.search(text)) and _MASK_SIGNS & set(match.group(1) + match.group(4)):
            return Documento(f"***.{match.group(2)}.{match.group(3)}-**", "cpf", True)
    return None


def masked_matches(documento: Documento, full_digits: str) -> bool:
    """True when the digits a masked (or full) document shows agree with a full number."""
    shown = re.sub(r"[^0-9*]", "", documento.numero)
    return len(shown) == len(full_digits) and all(s in ("*", f) for s, f in zip(shown, full_digits))


def find_pix_key(text: str) -> str | None:
    """Return the PIX key in a value: e-mail, CPF/CNPJ, phone or random key (EVP), or None."""
    compact = text.strip()
    if match := EVP_RE.search(compact):
        return match.group().lower()
    if match := EMAIL_RE.search(re.sub(r"\s+", "", compact)):
        return match.group().lower()
    if documento := find_documento(compact):
        return documento.numero
    if match := PHONE_RE.search(compact):
        return "+" + re.sub(r"[^0-9]", "", match.group())
    return None


def key_canonical(key: str) -> str:
    """Return a PIX key in comparable form: digits for documents and phones, lowercase otherwise."""
    key = key.strip()
    if "@" in key or EVP_RE.fullmatch(key):
        return key.lower()
    digits = re.sub(r"[^0-9]", "", key)
    return digits if digits else key.lower()
