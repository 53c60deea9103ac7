"""Is the payee on a receipt the company? Checked against the configured CNPJ, PIX keys and name."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from core.comprovantes.documents import (
    Documento,
    find_documento,
    key_canonical,
    masked_matches,
)
from core.comprovantes.pix import Parte, fold
from core.settings import Settings

CONFERE, DIVERGENTE, INDETERMINADO, NAO_CONFIGURADO = "confere", "divergente", "indeterminado", "nao_configurado"

# Company suffixes that one receipt prints and another leaves out.
_SUFFIXES = frozenset({"ltda", "sa", "me", "epp", "eireli", "mei", "cia"})


@dataclass(frozen=True)
class Validacao:
    status: str            # confere | divergente | indeterminado | nao_configurado
    motivo: str            # the reason, in pt-BR, shown to finance staff
    criterio: str | None   # what decided: cnpj | chave | nome

    def as_json(self) -> dict[str, str | None]:
        return asdict(self)


def _name_key(name: str) -> str:
    """Return a name folded for comparison: no accents, punctuation, spaces or company suffix."""
    words = re.sub(r"\bs a\b", "sa", re.sub(r"[^a-z0-9 ]", "", fold(name))).split()
    return "".join(word for word in words if word not in _SUFFIXES)


def validar_recebedor(recebedor: Parte, settings: Settings) -> Validacao:
    """Return whether the receipt's payee is the company, and why (or why it cannot tell)."""
    company_cnpj = re.sub(r"\D", "", settings.company_cnpj)
    company_keys = {key_canonical(k) for k in settings.company_pix_keys.split(",") if k.strip()}
    company_name = _name_key(settings.company_name) if settings.company_name.strip() else ""
    if not (company_cnpj or company_keys or company_name):
        return Validacao(NAO_CONFIGURADO, "Recebedor da empresa não configurado (defina STOCKFLOW_COMPANY_CNPJ, "
                                          "STOCKFLOW_COMPANY_PIX_KEYS ou STOCKFLOW_COMPANY_NAME).", None)

    documento: Documento | None = find_documento(recebedor.documento) if recebedor.documento else None
    if documento and company_cnpj:
        if not documento.mascarado:
            if documento.digits == company_cnpj:
                return Validacao(CONFERE, "O CNPJ do recebedor é o da empresa.", "cnpj")
            return Validacao(DIVERGENTE, f"O documento do recebedor ({documento.numero}) não é o CNPJ da empresa.",
                             "cnpj")
        if not masked_matches(documento, company_cnpj):
            return Validacao(DIVERGENTE, f"O documento do recebedor ({documento.numero}) não corresponde ao "
                                         "CNPJ da empresa.", "cnpj")
    if recebedor.chave_pix and company_keys:
        if key_canonical(recebedor.chave_pix) in company_keys:
            return Validacao(CONFERE, "A chave Pix do recebedor é uma chave da empresa.", "chave")
        return Validacao(DIVERGENTE, f"A chave Pix do recebedor ({recebedor.chave_pix}) não é uma chave da empresa.",
                         "chave")
    if recebedor.nome and company_name:
        if _name_key(recebedor.nome) == company_name:
            return Validacao(CONFERE, "O nome do recebedor é o da empresa"
                             + (" e o documento mascarado é compatível." if documento else "."), "nome")
        return Validacao(DIVERGENTE, f"O recebedor ({recebedor.nome}) não é a empresa ({settings.company_name}).",
                         "nome")
    return Validacao(INDETERMINADO, "Não foi possível identificar o recebedor no comprovante para conferir.", None)
