"""OCR engines behind one interface: Google Cloud Vision, and offline RapidOCR and tesseract.

Each takes the file bytes and returns plain text, one printed line per text line, which is
what the PIX parser reads. Engines are built once per process (model loading and HTTP
sessions are not cheap) by `get_engine()` / `get_engines()`; offline, both local engines read
every receipt and ocr/combine.py merges their fields. The offline engines also read one line
on its own (`read_line`): the E2E id's, cut from the page by RapidOCR's boxes (ocr/id_line.py).
"""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import string
import subprocess
import threading
from functools import lru_cache
from typing import Any, Protocol

from core.comprovantes.ocr.errors import OcrError, OcrUnavailable, UnreadableReceipt
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Offline engine: pages are rendered at this width (px) so text is ~20 px high.
RENDER_WIDTH_PX = 1000


class OcrEngine(Protocol):
    name: str

    def read_image(self, data: bytes) -> str:
        """Return the text of a JPEG or PNG image."""

    def read_pdf(self, data: bytes, max_pages: int) -> str:
        """Return the text of the first `max_pages` pages of a PDF, OCR'd as images."""


def render_pdf_pages(data: bytes, max_pages: int, width_px: int = RENDER_WIDTH_PX) -> list[bytes]:
    """Return the first pages of a PDF rendered as PNG bytes."""
    import pypdfium2 as pdfium

    pages: list[bytes] = []
    pdf = pdfium.PdfDocument(data)
    try:
        for index in range(min(len(pdf), max_pages)):
            page = pdf[index]
            scale = width_px / max(page.get_width(), 1.0)
            image = page.render(scale=min(scale, 4.0)).to_pil()
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            pages.append(buffer.getvalue())
            page.close()
    finally:
        pdf.close()
    return pages


class OfflineEngine:
    """RapidOCR (PP-OCRv4 models shipped in the wheel, ONNX Runtime on the CPU)."""

    name = "offline"

    def __init__(self, threads: int = 1) -> None:
        from rapidocr_onnxruntime import RapidOCR

        # Receipts are upright: the angle classifier only ever flipped correct lines.
        self._ocr = RapidOCR(use_cls=False, intra_op_num_threads=threads, inter_op_num_threads=1)
        # ONNX Runtime sessions are thread-safe, but one receipt at a time keeps memory flat.
        self._lock = threading.Lock()

    def read_image(self, data: bytes) -> str:
        return self.read_with_id_line(data, "image/png", 1)[0]

    def read_pdf(self, data: bytes, max_pages: int) -> str:
        return self.read_with_id_line(data, "application/pdf", max_pages)[0]

    def read_with_id_line(self, data: bytes, mime: str, max_pages: int) -> tuple[str, Any | None]:
        """Return the text, and the E2E id's line cut from its page and enlarged for a closer
        look (ocr/id_line.py), or None when no box holds an id."""
        from core.comprovantes.ocr import id_line

        pages = render_pdf_pages(data, max_pages) if mime == "application/pdf" else [data]
        texts, line = [], None
        for page in pages:
            image = _open_rgb(page)
            with self._lock:
                result, _ = self._ocr(_bgr(image))
            texts.append(lines_from_boxes(result or []))
            if line is None and (box := id_line.id_box(result or [])) is not None:
                line = id_line.crop_line(image, box[0], box[1])
        return "\n".join(texts), line

    def read_line(self, line: Any) -> str:
        """Return the text of one enlarged line (recognition only: the box is already known),
        at the page's own scale: the recognizer reads enlarged glyphs worse (measured)."""
        from PIL import Image

        from core.comprovantes.ocr.id_line import SCALE

        page_scale = line.resize((line.width // SCALE, line.height // SCALE), Image.LANCZOS)
        with self._lock:
            result, _ = self._ocr(_bgr(page_scale), use_det=False, use_cls=False, use_rec=True)
        return _restore_words(result[0][0]) if result else ""


def _open_rgb(data: bytes) -> Any:
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # noqa: BLE001 - any decoder error: the file is unreadable
        raise UnreadableReceipt("Não foi possível abrir a imagem do comprovante.") from exc


def _bgr(image: Any) -> Any:
    import numpy as np

    return np.asarray(image.convert("RGB"))[:, :, ::-1]


def lines_from_boxes(result: list[Any]) -> str:
    """Join RapidOCR boxes into printed lines: boxes on one row become one line, left to right.

    Columns of a row are joined by two spaces, so "label   value" layouts stay readable.
    """
    items = []
    for entry in result:
        box, text = entry[0], entry[1]
        ys = [point[1] for point in box]
        xs = [point[0] for point in box]
        items.append((min(ys), max(ys), min(xs), _restore_words(text)))
    items.sort(key=lambda item: (item[0] + item[1]) / 2)
    rows: list[list[tuple[float, float, float, str]]] = []
    for item in items:
        center = (item[0] + item[1]) / 2
        if rows:
            last = rows[-1]
            top = sum(i[0] for i in last) / len(last)
            bottom = sum(i[1] for i in last) / len(last)
            if abs(center - (top + bottom) / 2) < (bottom - top) * 0.5:
                last.append(item)
                continue
        rows.append([item])
    return "\n".join("  ".join(i[3] for i in sorted(row, key=lambda i: i[2])) for row in rows)


# PP-OCR's recognizer was trained mostly on Chinese: it drops the space between words and
# reads the Portuguese tilde as an umlaut (Portuguese has no umlaut, so the swap is safe).
_UMLAUT_TO_TILDE = str.maketrans("äöÄÖ", "ãõÃÕ")
_GLUED_WORDS = re.compile(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ])")


def _restore_words(text: str) -> str:
    """Undo the recognizer's habits on Latin text: tildes, and "BoaVista" back to "Boa Vista"."""
    return _GLUED_WORDS.sub(" ", text.translate(_UMLAUT_TO_TILDE))


# Tesseract reads best with text about 30 px high: small images (messaging apps' JPEGs) are
# enlarged to this width first.
TESSERACT_MIN_WIDTH_PX = 1300


def tesseract_available(binary: str = "tesseract") -> bool:
    """True when the tesseract binary and its Portuguese model are installed."""
    return shutil.which(binary) is not None and _has_portuguese(binary)


def _has_portuguese(binary: str) -> bool:
    return "por" in _languages(binary)


@lru_cache(maxsize=4)
def _languages(binary: str) -> tuple[str, ...]:
    try:
        listed = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(listed.stdout.split())


class TesseractEngine:
    """Debian's tesseract-ocr with the Portuguese model, run as a subprocess.

    It keeps accents and word spaces where RapidOCR drops them; RapidOCR reads digits and
    symbols better. Pages are fed in grey, dark mode inverted, small images enlarged.
    """

    name = "tesseract"

    def __init__(self, binary: str = "tesseract", timeout_s: float = 60) -> None:
        if not tesseract_available(binary):
            raise OcrError("tesseract (com o idioma por) não está instalado: rode platform/bootstrap.sh.")
        self._binary = binary
        self._timeout_s = timeout_s

    def read_image(self, data: bytes) -> str:
        from PIL import Image, ImageOps

        try:
            with Image.open(io.BytesIO(data)) as image:
                grey = ImageOps.exif_transpose(image).convert("L")
        except Exception as exc:  # noqa: BLE001 - any decoder error: the file is unreadable
            raise UnreadableReceipt("Não foi possível abrir a imagem do comprovante.") from exc
        if sum(grey.resize((32, 32)).getdata()) / 1024 < 110:
            grey = ImageOps.invert(grey)  # dark mode: tesseract wants dark text on light
        if grey.width < TESSERACT_MIN_WIDTH_PX:
            factor = TESSERACT_MIN_WIDTH_PX / grey.width
            grey = grey.resize((TESSERACT_MIN_WIDTH_PX, round(grey.height * factor)), Image.LANCZOS)
        buffer = io.BytesIO()
        grey.save(buffer, "PNG")
        # One thread: the workers already use every core, OpenMP on top only thrashes.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run([self._binary, "stdin", "stdout", "-l", "por", "--psm", "6",
                                   "-c", "preserve_interword_spaces=1"], input=buffer.getvalue(),
                                  capture_output=True, timeout=self._timeout_s, env=env)
        except subprocess.TimeoutExpired as exc:
            raise OcrUnavailable("O tesseract demorou demais para ler o comprovante.") from exc
        if done.returncode != 0:
            raise OcrError(f"O tesseract falhou: {done.stderr.decode(errors='replace')[:200]}")
        return done.stdout.decode("utf-8", errors="replace")

    def read_pdf(self, data: bytes, max_pages: int) -> str:
        return "\n".join(self.read_image(page) for page in render_pdf_pages(data, max_pages))

    def read_line(self, line: Any) -> str:
        """Return the text of one enlarged line: one text line (--psm 7), letters and digits only,
        no dictionary (an id is no word)."""
        buffer = io.BytesIO()
        line.convert("L").save(buffer, "PNG")
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            # English's model has no Portuguese word habits to bring to an id (Debian installs it
            # with tesseract-ocr itself)
            language = "eng" if "eng" in _languages(self._binary) else "por"
            done = subprocess.run([self._binary, "stdin", "stdout", "-l", language, "--psm", "7",
                                   "-c", f"tessedit_char_whitelist={string.ascii_letters + string.digits}",
                                   "-c", "load_system_dawg=0", "-c", "load_freq_dawg=0"],
                                  input=buffer.getvalue(), capture_output=True, timeout=self._timeout_s, env=env)
        except subprocess.TimeoutExpired as exc:
            raise OcrUnavailable("O tesseract demorou demais para ler o comprovante.") from exc
        return done.stdout.decode("utf-8", errors="replace").strip() if done.returncode == 0 else ""


class GoogleVisionEngine:
    """Google Cloud Vision document text detection through the official client (REST transport)."""

    name = "google"

    def __init__(self, credentials_file: str, endpoint: str, timeout_s: float) -> None:
        from google.cloud import vision

        if credentials_file:
            from google.oauth2 import service_account

            credentials: Any = service_account.Credentials.from_service_account_file(
                credentials_file, scopes=["https://www.googleapis.com/auth/cloud-vision"])
        elif endpoint:
            # A local stand-in takes no credentials; Google's endpoint would refuse these.
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
        else:
            raise OcrError("Google Vision sem credenciais: defina STOCKFLOW_GOOGLE_CREDENTIALS_FILE.")
        options = {"api_endpoint": endpoint} if endpoint else None
        self._vision = vision
        self._client = vision.ImageAnnotatorClient(credentials=credentials, transport="rest",
                                                   client_options=options)
        self._timeout_s = timeout_s

    def read_image(self, data: bytes) -> str:
        vision = self._vision
        response = self._call(lambda: self._client.document_text_detection(
            image=vision.Image(content=data), image_context={"language_hints": ["pt"]},
            retry=None, timeout=self._timeout_s))
        _raise_for(response.error)
        return response.full_text_annotation.text

    def read_pdf(self, data: bytes, max_pages: int) -> str:
        vision = self._vision
        request = vision.AnnotateFileRequest(
            input_config=vision.InputConfig(content=data, mime_type="application/pdf"),
            features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
            image_context=vision.ImageContext(language_hints=["pt"]),
            pages=list(range(1, max_pages + 1)))
        response = self._call(lambda: self._client.batch_annotate_files(
            requests=[request], retry=None, timeout=self._timeout_s))
        texts = []
        for file_response in response.responses:
            _raise_for(file_response.error)
            for page in file_response.responses:
                _raise_for(page.error)
                texts.append(page.full_text_annotation.text)
        return "\n".join(texts)

    @staticmethod
    def _call(request: Any) -> Any:
        from google.api_core import exceptions as gexc
        from requests import exceptions as rexc

        try:
            return request()
        except (gexc.ServerError, gexc.TooManyRequests, gexc.DeadlineExceeded,
                rexc.ConnectionError, rexc.Timeout) as exc:
            log.warning("google vision transient failure: %s", exc)
            raise OcrUnavailable("O Google Vision não respondeu (falha temporária).") from exc
        except gexc.InvalidArgument as exc:
            raise UnreadableReceipt("O Google Vision não conseguiu ler o arquivo.") from exc
        except (gexc.Unauthenticated, gexc.PermissionDenied) as exc:
            raise OcrError("O Google Vision recusou as credenciais configuradas.") from exc
        except gexc.GoogleAPICallError as exc:
            raise OcrError(f"O Google Vision recusou o pedido ({exc.code}).") from exc


def _raise_for(status: Any) -> None:
    """Raise for an error status inside a 200 answer (Vision reports per-image errors there)."""
    if status is not None and getattr(status, "code", 0):
        # google.rpc codes 4 DEADLINE_EXCEEDED, 8 RESOURCE_EXHAUSTED, 13 INTERNAL, 14 UNAVAILABLE
        if status.code in (4, 8, 13, 14):
            raise OcrUnavailable("O Google Vision não respondeu (falha temporária).")
        raise UnreadableReceipt(f"O Google Vision não conseguiu ler o arquivo: {status.message}")


def choose_engine_name(settings: Settings) -> str:
    """Return "google" or "offline" for the configured choice ("auto": Google when it has credentials)."""
    if settings.ocr_engine != "auto":
        return settings.ocr_engine
    return "google" if settings.google_credentials_file else "offline"


_lock = threading.Lock()


def get_engine() -> OcrEngine:
    """Return this process's OCR engine for the current settings, building it on first use."""
    settings = get_settings()
    name = choose_engine_name(settings)
    with _lock:
        if name == "google":
            return _google_engine(settings.google_credentials_file, settings.google_vision_endpoint,
                                  settings.google_vision_timeout_s)
        return _offline_engine(settings.ocr_offline_threads)


def get_engines() -> list[OcrEngine]:
    """Every engine that reads a receipt under the current settings: Google Vision alone when
    chosen; offline, RapidOCR and (when installed) tesseract, their fields combined."""
    settings = get_settings()
    if choose_engine_name(settings) == "google":
        return [get_engine()]
    engines: list[OcrEngine] = [get_engine()]
    with _lock:
        if (tesseract := _tesseract_engine()) is not None:
            engines.append(tesseract)
    return engines


@lru_cache(maxsize=1)
def _tesseract_engine() -> TesseractEngine | None:
    if not tesseract_available():
        log.warning("tesseract-ocr (por) is not installed: the offline engine reads with RapidOCR alone")
        return None
    return TesseractEngine()


@lru_cache(maxsize=4)
def _google_engine(credentials_file: str, endpoint: str, timeout_s: float) -> GoogleVisionEngine:
    return GoogleVisionEngine(credentials_file, endpoint, timeout_s)


@lru_cache(maxsize=2)
def _offline_engine(threads: int) -> OfflineEngine:
    return OfflineEngine(threads)
