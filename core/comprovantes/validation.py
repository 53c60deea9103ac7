"""Upload validation: decide whether a file may be stored, before anything is written.

Each check raises UploadRefused with a pt-BR message for the user and the HTTP status the
API answers. The order matters: cheap checks on the name and size first, then the real
type (python-magic) against the extension, then a structural look at the content.
"""
from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

import magic
from PIL import Image

from core.settings import get_settings

# extension -> the only real type (python-magic) accepted for it
ALLOWED_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                 ".pdf": "application/pdf"}
MAX_NAME_CHARS = 255

# Markup that makes a file a browser polyglot (it renders as a page if ever served as HTML).
# Every pattern is long enough not to turn up by chance in compressed image or PDF data
# (a bare "<svg" would, once in a few hundred large files): SVG counts with an event handler.
# Every tag pattern starts with the literal "<", which lets the regex engine skip ahead to
# each "<" instead of trying every alternative at every byte (10x faster on a 50 KB image);
# "javascript:" is a plain substring test on the ASCII-lowercased bytes (what IGNORECASE means
# for a bytes pattern).
MARKUP_TAGS = re.compile(rb"<(?:\s*(?:script|html|body|iframe|object|embed)\b|!doctype\s+html|\?php"
                         rb"|\s*svg\b[^>]{0,200}\bon[a-z]+\s*=)", re.IGNORECASE)
MARKUP_URL = b"javascript:"


def has_markup(data: bytes) -> bool:
    """True when the bytes carry HTML/script markup (a polyglot), in any letter case."""
    return MARKUP_TAGS.search(data) is not None or MARKUP_URL in data.lower()

# PDF names that run code or carry files. /JS and /AA are short enough to occur by chance
# inside compressed data, so the raw scan skips stream bodies; the parsed scan (pypdf,
# object streams decompressed) is what catches names hidden in compressed objects.
FORBIDDEN_PDF_NAMES = frozenset({"/JavaScript", "/JS", "/Launch", "/EmbeddedFile", "/EmbeddedFiles",
                                 "/RichMedia", "/XFA"})
PDF_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]+")
PDF_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)


class UploadRefused(ValueError):
    """The file may not be stored; `message` is shown to the user as is."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class AcceptedUpload:
    name: str        # the sanitised original name (kept for display only)
    extension: str   # normalised, e.g. ".jpg"
    mime: str        # the real type python-magic found


def too_large_message() -> str:
    """Return the pt-BR refusal for a file over the size limit (the app's 413 message too)."""
    limit_mb = get_settings().upload_max_bytes / (1024 * 1024)
    return f"Arquivo maior que o limite de {limit_mb:g} MB."


def normalise_name(raw: str | None) -> tuple[str, str]:
    """Return (sanitised name, lowercase extension) or refuse names that try to escape or hide."""
    if raw is None or not raw.strip():
        raise UploadRefused("Envie um arquivo (campo 'arquivo').")
    if "\x00" in raw or any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise UploadRefused("Nome de arquivo inválido: contém caracteres de controle.")
    if len(raw) > MAX_NAME_CHARS:
        raise UploadRefused(f"Nome de arquivo longo demais (máximo {MAX_NAME_CHARS} caracteres).")
    name = unicodedata.normalize("NFKC", raw).strip()
    if "/" in name or "\\" in name or ".." in name:
        raise UploadRefused("Nome de arquivo inválido: não pode conter caminhos ('/', '\\' ou '..').")
    # Windows ignores trailing dots and spaces: "x.jpg. " must not pass as something else.
    name = name.rstrip(". ")
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot > 0 else ""
    if extension not in ALLOWED_TYPES:
        raise UploadRefused("Tipo de arquivo não permitido: envie JPG, PNG ou PDF.", status=415)
    return name, extension


def validate_upload(raw_name: str | None, data: bytes) -> AcceptedUpload:
    """Check a whole upload (name and bytes) and return what was accepted, or raise UploadRefused."""
    settings = get_settings()
    name, extension = normalise_name(raw_name)
    if not data:
        raise UploadRefused("Arquivo vazio.")
    if len(data) > settings.upload_max_bytes:
        raise UploadRefused(too_large_message(), status=413)
    mime = magic.from_buffer(data[:65536], mime=True)
    if mime != ALLOWED_TYPES[extension]:
        raise UploadRefused(f"O conteúdo do arquivo ({mime}) não corresponde à extensão {extension}.",
                            status=415)
    if has_markup(data):
        raise UploadRefused("Arquivo recusado: contém HTML ou script embutido.", status=415)
    if mime == "application/pdf":
        check_pdf(data, settings.upload_max_pdf_pages)
    else:
        check_image(data, settings.upload_max_pixels)
    return AcceptedUpload(name=name, extension=extension, mime=mime)


def check_image(data: bytes, max_pixels: int) -> None:
    """Refuse images over the pixel limit (read from the header, before any decoding) or broken.

    Pillow's verify() walks the file's structure (chunk checksums) without decoding pixels:
    decoding is the OCR worker's job, and it never sees an image over the limit.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise UploadRefused(
                        f"Imagem grande demais ({width}x{height} pixels; máximo {max_pixels:,} pixels)."
                        .replace(",", "."), status=413)
                image.verify()
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRefused("Imagem grande demais para ser processada.", status=413) from None
    except Exception:  # noqa: BLE001 - any decoder error means the same thing to the user
        raise UploadRefused("Imagem corrompida ou ilegível.") from None


def check_pdf(data: bytes, max_pages: int) -> None:
    """Refuse PDFs that are unreadable, encrypted, too long, or carry scripts, launches or files."""
    if found := _forbidden_in_raw(data):
        raise UploadRefused(_active_content_message(found), status=415)
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UploadRefused("PDF protegido por senha: envie o arquivo sem proteção.")
        pages = len(reader.pages)
        found = _forbidden_in_objects(reader)
    except UploadRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError):
        raise UploadRefused("PDF corrompido ou ilegível.") from None
    if found:
        raise UploadRefused(_active_content_message(found), status=415)
    if pages == 0:
        raise UploadRefused("PDF sem páginas.")
    if pages > max_pages:
        raise UploadRefused(f"PDF com {pages} páginas: o máximo é {max_pages}.", status=413)


def _active_content_message(name: str) -> str:
    return f"PDF recusado: contém conteúdo ativo ou anexos ({name})."


def _decode_name(raw: bytes) -> str:
    """Decode a PDF name, including #xx escapes (/J#61vaScript is /JavaScript)."""
    text = raw.decode("latin-1")
    return re.sub(r"#([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


def _forbidden_in_raw(data: bytes) -> str | None:
    """Return a forbidden name written outside stream bodies, or None."""
    for match in PDF_NAME.finditer(PDF_STREAM.sub(b" ", data)):
        name = _decode_name(match.group())
        if name in FORBIDDEN_PDF_NAMES:
            return name
    return None


def _forbidden_in_objects(reader: object) -> str | None:
    """Return a forbidden name found in any parsed object (compressed ones included), or None."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    seen: set[int] = set()

    def walk(obj: object, depth: int) -> str | None:
        if depth > 64 or id(obj) in seen:
            return None
        seen.add(id(obj))
        if isinstance(obj, NameObject):
            return str(obj) if str(obj) in FORBIDDEN_PDF_NAMES else None
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                if str(key) in FORBIDDEN_PDF_NAMES:
                    return str(key)
                if not isinstance(value, IndirectObject) and (hit := walk(value, depth + 1)):
                    return hit
        elif isinstance(obj, ArrayObject):
            for value in obj:
                if not isinstance(value, IndirectObject) and (hit := walk(value, depth + 1)):
                    return hit
        return None

    # Every numbered object the file declares: from the xref tables and the object streams.
    numbers: set[tuple[int, int]] = set()
    for generation, entries in reader.xref.items():  # type: ignore[attr-defined]
        numbers.update((number, generation) for number in entries)
    numbers.update((number, 0) for number in reader.xref_objStm)  # type: ignore[attr-defined]
    if hit := walk(reader.trailer, 0):  # type: ignore[attr-defined]
        return hit
    for number, generation in sorted(numbers):
        obj = reader.get_object(IndirectObject(number, generation, reader))  # type: ignore[attr-defined]
        if hasattr(obj, "get_object"):
            obj = obj.get_object()
        if hit := walk(obj, 0):
            return hit
    return None
