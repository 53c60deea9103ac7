"""The receipts page (/financeiro/comprovantes) and its JSON API: upload, list, read one, and the
review queue (a receipt's file, corrections and confirmation)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from core import jobs
from core.comprovantes import processing, registry, review, storage
from core.comprovantes.validation import (
    UploadRefused,
    too_large_message,
    validate_upload,
)
from core.models.auth import COMPROVANTES, COMPROVANTES_REVISAR, COMPROVANTES_TODOS
from core.settings import get_settings
from web.access import requires
from web.limits import current_user_key, limiter, minutes, take_daily_upload_bytes, throttled_response
from web.metrics import timed_upload

log = logging.getLogger(__name__)

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


# Who may read a channel: finance staff hear receipts entering and leaving the review queue.
SSE_CHANNELS = {review.CHANNEL: lambda user, rest: rest == "" and user.can(COMPROVANTES_REVISAR)}
# The file shown beside the fields: an image as stored, a PDF's first page rendered as PNG
# (the browser never opens the PDF itself), never as a page or a download of the app's origin.
FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"
PDF_PREVIEW_WIDTH_PX = 1000


def describe(receipt: Any) -> dict[str, Any]:
    """A receipt as this user may see it: the receipt a duplicate repeats is named only to those
    who may read that one (otherwise it is just "already received")."""
    body = registry.describe(receipt)
    body["duplicado"] = receipt.duplicado_de is not None
    if receipt.duplicado_de is not None and not _may_see(registry.get(receipt.duplicado_de)):
        body["duplicado_de"] = None
    return body


@bp.get("/financeiro/comprovantes")
@requires(COMPROVANTES)
def index() -> Any:
    from core.sse import latest_id

    reviewer = current_user.can(COMPROVANTES_REVISAR)
    # Read before the queries: an update committed in between is replayed, not missed.
    since = latest_id(review.CHANNEL) if reviewer else None
    recent = registry.recent(_owner_filter())
    pending = review.pending() if reviewer else []
    settings = get_settings()
    return render_template("comprovantes/index.html", comprovantes=[describe(r) for r in recent],
                           revisar=[describe(r) for r in pending], revisor=reviewer,
                           revisao_desde=since, campos_revisao=list(review.FIELD_LABELS.items()),
                           total=registry.total_recebido(recent),
                           max_mb=settings.upload_max_bytes / (1024 * 1024),
                           max_pages=settings.upload_max_pdf_pages)


@bp.get("/api/comprovantes")
@requires(COMPROVANTES)
def listing() -> Any:
    recent = registry.recent(_owner_filter())
    return jsonify(comprovantes=[describe(r) for r in recent],
                   total_recebido=f"{registry.total_recebido(recent):.2f}")


@bp.get("/api/comprovantes/<int:comprovante_id>")
@requires(COMPROVANTES)
def detail(comprovante_id: int) -> Any:
    return jsonify(describe(_visible(comprovante_id)))


@bp.get("/api/comprovantes/revisao")
@requires(COMPROVANTES_REVISAR)
def review_queue() -> Any:
    """The receipts waiting for a person, oldest first."""
    return jsonify(comprovantes=[describe(r) for r in review.pending()])


@bp.get("/api/comprovantes/<int:comprovante_id>/arquivo")
@requires(COMPROVANTES_REVISAR)
def original_file(comprovante_id: int) -> Any:
    """The receipt's file for the reviewer's eyes: the image, or a PDF's first page as PNG."""
    from core.comprovantes.ocr.engines import render_pdf_pages

    receipt = _visible(comprovante_id)
    mime = receipt.mime
    try:
        if mime == "application/pdf":
            data = storage.read_preview(receipt.nome_armazenado,
                                        lambda pdf: render_pdf_pages(pdf, 1, PDF_PREVIEW_WIDTH_PX)[0])
            mime = "image/png"
        else:
            data = storage.read(receipt.nome_armazenado)
    except OSError:
        abort(404, description="O arquivo do comprovante não está mais no armazenamento.")
    extension = {"image/png": "png", "image/jpeg": "jpg"}[mime]
    response = Response(data, mimetype=mime)
    response.headers["Content-Disposition"] = f'inline; filename="comprovante-{receipt.id}.{extension}"'
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/api/comprovantes/<int:comprovante_id>/revisao")
@requires(COMPROVANTES_REVISAR)
def confirm_review(comprovante_id: int) -> Any:
    """Save a reviewer's corrections ({"campos": {field: value}}) and confirm the receipt:
    200 with the receipt as it now is, or a pt-BR error and nothing changed."""
    _visible(comprovante_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="Envie JSON {\"campos\": {campo: valor}}.")
    try:
        outcome = review.correct(comprovante_id, body.get("campos") or {}, current_user.id)
    except review.CorrectionRefused as refused:
        log.info("review refused comprovante=%s user=%s reason=%s", comprovante_id, current_user.id,
                 refused.message)
        abort(refused.status, description=refused.message)
    receipt = registry.get(comprovante_id)
    return jsonify(comprovante=describe(receipt), correcoes=outcome["correcoes"])


@bp.post("/api/comprovantes")
@limiter.limit(lambda: get_settings().upload_limit_per_user, key_func=current_user_key,
               error_message="Muitos envios de comprovantes em pouco tempo.")
@requires(COMPROVANTES)
@timed_upload
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
        body["comprovante"] = describe(receipt)
        if job_id and (job := jobs.get_status(job_id)):
            body["job"] = job
            body["status"] = job["status"]
    return body
