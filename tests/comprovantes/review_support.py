"""Receipts stored as if read, with the fields the test chooses (no OCR): the review queue's and
the duplicate check's tests start from what the OCR would have saved."""
from __future__ import annotations

from typing import Any

from core import jobs
from core.comprovantes import processing, registry
from core.comprovantes.recebedor import validar_recebedor
from core.comprovantes.validation import validate_upload
from core.settings import get_settings
from tests.comprovantes.receipts import Receipt, render_pdf, render_png

FIELDS = ("valor", "data_hora", "id_transacao", "pagador.nome", "pagador.documento", "pagador.instituicao",
          "recebedor.nome", "recebedor.documento", "recebedor.instituicao", "recebedor.chave_pix")


def campos_of(receipt: Receipt, duvidosos: tuple[str, ...] = (), missing: tuple[str, ...] = (),
              **values: Any) -> dict[str, Any]:
    """The `campos` the OCR would save for this receipt (DadosPix.as_json() plus the contract's
    confianca/duvidosos): doubtful fields get a low confidence; `missing` fields are None;
    `values` ("recebedor.nome"="...") replace what was printed."""
    expected = {**receipt.expected(), **{k.replace("__", "."): v for k, v in values.items()}}
    for key in missing:
        expected[key] = None
    campos: dict[str, Any] = {"valor": None if expected["valor"] is None else f"{expected['valor']:.2f}",
                              "data_hora": expected["data_hora"], "id_transacao": expected["id_transacao"]}
    for party in ("pagador", "recebedor"):
        documento = expected.get(f"{party}.documento")
        campos[party] = {"nome": expected.get(f"{party}.nome"), "documento": documento,
                         "tipo_documento": None if not documento else "cnpj" if "/" in documento else "cpf",
                         "instituicao": expected.get(f"{party}.instituicao"),
                         "chave_pix": expected.get(f"{party}.chave_pix")}
    campos["confianca"] = {key: 0.42 if key in duvidosos else 0.97 for key in FIELDS}
    campos["duvidosos"] = list(duvidosos)
    return campos


def store_read(receipt: Receipt, campos: dict[str, Any], user_id: int | None = None,
               kind: str = "png") -> tuple[int, str]:
    """Store the receipt's file (PNG or PDF) and save `campos` as its reading, with its payee
    check and finished job, as a worker would; return (comprovante_id, job_id)."""
    from core.comprovantes.pix import Parte

    data, name = (render_png(receipt), "recibo.png") if kind == "png" else (render_pdf(receipt), "recibo.pdf")
    registered = registry.register(data, validate_upload(name, data), None, user_id)
    assert registered.job_id is not None and not registered.duplicate
    payee = Parte(**campos["recebedor"])
    validacao = validar_recebedor(payee, get_settings()).as_json()
    result = processing.save_read(registered.comprovante_id, "offline", "texto lido", campos, validacao)
    jobs.mark_finished(registered.job_id, result)
    return registered.comprovante_id, registered.job_id
