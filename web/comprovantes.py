"""The receipts page (/financeiro/comprovantes) and its JSON API: upload, list, read one."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from core import jobs
from core.comprovantes import processing, registry
from core.comprovantes.validation import (
    UploadRefused,
    too_large_message,
    validate_upload,
)
from core.settings import get_settings
from web.limits import current_user_key, limiter, minutes, take_daily_upload_bytes, throttled_response

log = logging.getLogger(__name__)
from core.models.auth import COMPROVANTES, COMPROVANTES_TODOS
from web.access import requires

bp = Blueprint("comprovantes", __name__)

# Room for the multipart envelope around the file (boundaries, headers, the pedido field).
FORM_OVERHEAD_BYTES = 16 * 1024
MAX_PEDIDO_CHARS = 64
# What someone hears who sends a file another person already sent: nothing of that receipt.
ALREADY_RECEIVED = "Este pagamento já foi recebido."


def _refuse(message: str, status: int, reason: str) -> Any:
    log.warning("upload refused reason=%s status=%s user=%s", reason, status, current_user.id)
    abort(status, description=message)


def _owner_filter() -> int | None:
    return None if current_user.can(COMPROVANTES_TODOS) else current_user.id


def _visible(comprovante_id: int) -> Any:
    receipt = registry.get(comprovante_id)
    if receipt is None or (not current_user.can(COMPROVANTES_TODOS)
                           and receipt.uploaded_by != current_user.id):
        abort(404, description=f"Comprovante {comprovante_id} não encontrado.")
    return receipt


@bp.get("/financeiro/comprovantes")
@requires(COMPROVANTES)
def index() -> Any:
    receipts = [registry.describe(r) for r in registry.recent(_owner_filter())]
    settings = get_settings()
    return render_template("comprovantes/index.html", comprovantes=receipts,
                           max_mb=settings.upload_max_bytes / (1024 * 1024),
                           max_pages=settings.upload_max_pdf_pages)


@bp.get("/api/comprovantes")
@requires(COMPROVANTES)
def listing() -> Any:
    return jsonify(comprovantes=[registry.describe(r) for r in registry.recent(_owner_filter())])


@bp.get("/api/comprovantes/<int:comprovante_id>")
@requires(COMPROVANTES)
def detail(comprovante_id: int) -> Any:
    return jsonify(registry.describe(_visible(comprovante_id)))


@bp.post("/api/comprovantes")
@limiter.limit(lambda: get_settings().upload_limit_per_user, key_func=current_user_key,
               error_message="Muitos envios de comprovantes em pouco tempo.")
@requires(COMPROVANTES)
def upload() -> Any:
    """Accept a receipt: 202 with the job when queued (also when the broker is down: the
    sweeper sends it), 200 when already known (same file); a JSON error and nothing stored
    otherwise. Someone else's receipt of the same file is named by nothing but the fact."""
    settings = get_settings()
    limit = settings.upload_max_bytes + FORM_OVERHEAD_BYTES
    # Refused on the declared length, before a byte of the body is read.
    if request.content_length is not None and request.content_length > limit:
        _refuse(too_large_message(), 413, "content_length")
    # A body without Content-Length (chunked) is cut at the same limit while it streams in.
    request.max_content_length = limit
    try:
        upload_file = request.files.get("arquivo")
        pedido = (request.form.get("pedido") or "").strip() or None
    except RequestEntityTooLarge:
        _refuse(too_large_message(), 413, "stream_length")
    if upload_file is None:
        _refuse("Envie o comprovante no campo 'arquivo' (multipart/form-data).", 400, "no_file")
    if pedido is not None and (len(pedido) > MAX_PEDIDO_CHARS or not pedido.isprintable()):
        _refuse(f"Número do pedido inválido (até {MAX_PEDIDO_CHARS} caracteres).", 400, "pedido")
    data = upload_file.stream.read(settings.upload_max_bytes + 1)
    try:
        accepted = validate_upload(upload_file.filename, data)
    except UploadRefused as refused:
        _refuse(refused.message, refused.status, "validation")
    if retry_after_s := take_daily_upload_bytes(current_user.id, len(data)):
        log.warning("upload refused reason=daily_volume status=429 user=%s", current_user.id)
        limit_mb = settings.upload_daily_bytes_per_user / (1024 * 1024)
        return throttled_response(f"Limite diário de envio de comprovantes atingido ({limit_mb:.0f} "
                                  f"MB por dia). Tente de novo em {minutes(retry_after_s)}.",
                                  retry_after_s)

    registered = registry.register(data, accepted, pedido, current_user.id)
    comprovante_id, job_id, again = registered.comprovante_id, registered.job_id, False
    if registered.duplicate and not _may_see(registry.get(comprovante_id)):
        log.info("duplicate of another user's receipt comprovante=%s user=%s", comprovante_id,
                 current_user.id)
        return jsonify(duplicado=True, mensagem=ALREADY_RECEIVED), 200
    if registered.duplicate:
        # The same file again: its receipt, unless it never finished (failed, or stuck past
        # its deadline), which is queued again so the person is not left without a way out.
        job_id = registry.reopen_unfinished(comprovante_id)
        if job_id is None:
            receipt = registry.get(comprovante_id)
            assert receipt is not None
            body = _answer(comprovante_id, receipt.job_id, receipt)
            body.update(duplicado=True, mensagem=f"Este arquivo já foi enviado (comprovante #{receipt.id}).")
            return jsonify(body), 200
        again = True
    assert job_id is not None
    if processing.enqueue(comprovante_id, job_id):
        body = _answer(comprovante_id, job_id)
        body.update(duplicado=again, modo="fila", status="queued")
        if again:
            body.update(reenviado=True, mensagem=(
                f"Este arquivo já tinha sido enviado (comprovante #{comprovante_id}) e não "
                "terminou de ser lido: foi colocado na fila de novo."))
        return jsonify(body), 202
    # No broker: the receipt and its queued job are saved, and Beat's sweeper sends the job
    # once it is past its deadline (STOCKFLOW_JOB_DEADLINES). No OCR in the web process: one
    # would stall every request and live stream of this gevent worker while it runs.
    body = _answer(comprovante_id, job_id)
    body.update(duplicado=again, modo="aguardando_fila", status="queued",
                mensagem="Fila indisponível agora: o comprovante foi guardado e será lido "
                         "assim que ela voltar.")
    return jsonify(body), 202


def _may_see(receipt: Any) -> bool:
    """Whether the signed-in user may read this receipt (their own, or everyone's by role)."""
    return receipt is not None and (current_user.can(COMPROVANTES_TODOS)
                                    or receipt.uploaded_by == current_user.id)


def _answer(comprovante_id: int, job_id: str | None, receipt: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"comprovante_id": comprovante_id, "job_id": job_id,
                            "status_url": f"/jobs/{job_id}/status" if job_id else None}
    if receipt is not None:
        body["comprovante"] = registry.describe(receipt)
        if job_id and (job := jobs.get_status(job_id)):
            body["job"] = job
            body["status"] = job["status"]
    return body
