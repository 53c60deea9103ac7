"""Upload validation: decide whether a file may be stored, before anything is written.

Each check raises UploadRefused with a pt-BR message for the user and the HTTP status the
API answers. The order matters: cheap checks on the name and size first, then the real
type (python-magic) against the extension, then a structural look at the content.
"""
from __future__ import annotations

import io
import logging
import re
import unicodedata
import warnings
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import magic
from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
    read_object,
)

from core.settings import get_settings

log = logging.getLogger(__name__)

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
# inside compressed data, so the raw scan skips stream bodies; the parsed scan (pypdf, every
# object, object streams decompressed) is what catches names hidden in compressed objects.
FORBIDDEN_PDF_NAMES = frozenset({"/JavaScript", "/JS", "/Launch", "/EmbeddedFile", "/EmbeddedFiles",
                                 "/RichMedia", "/XFA"})
# The raw scan reads the file as a PDF lexer does: outside strings, comments and stream bodies,
# each match starts a name that may be forbidden (its first letter is one of theirs, or a #xx
# escape), a string, a comment or a stream body. `stream` counts only as the keyword (after
# whitespace or '>>', before its end of line), never inside a string: a "(stream\n)" string
# must not hide what follows it. Other names hold no '(' or '%' and are skipped unread.
_FIRST_LETTERS = "".join(sorted({name[1] for name in FORBIDDEN_PDF_NAMES})).encode()
PDF_RAW_TOKEN = re.compile(rb"/[#" + _FIRST_LETTERS + rb"][^\s\x00/<>\[\]()%{}]*|\(|%"
                           rb"|(?<![^\s\x00>])stream\r?\n")
PDF_SIMPLE_STRING = re.compile(rb"\((?:[^\\()]|\\.)*\)", re.DOTALL)
PDF_STRING_PART = re.compile(rb"\\.|[()]", re.DOTALL)
PDF_LINE_END = re.compile(rb"[\r\n]")
# What the scans may walk (raw tokens; parsed objects): a receipt has a few hundred objects
# and a few KB of object streams; a file past these bounds is refused rather than walked for
# seconds.
MAX_PDF_NODES = 200_000
MAX_PDF_OBJECT_STREAM_BYTES = 32 * 1024 * 1024
PDF_UNREADABLE = "PDF corrompido ou ilegível."
PDF_REPAIRED = ("PDF fora do padrão: não foi possível lê-lo por inteiro sem correções. "
                "Gere o PDF de novo ou envie uma imagem (PNG ou JPG) do comprovante.")
PDF_TOO_COMPLEX = ("PDF com estrutura grande demais para ser verificada: "
                   "envie uma imagem (PNG ou JPG) do comprovante.")


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
    """Refuse PDFs that are unreadable, encrypted, too long, or carry scripts, launches or files.

    Active content is looked for in the raw bytes (outside strings, comments and stream
    bodies) and in every object pypdf reads, at any depth. A PDF pypdf reads only by repairing
    it is refused too: what a viewer makes of a broken file may differ from what was checked.
    """
    if found := _forbidden_in_raw(data):
        raise UploadRefused(_active_content_message(found), status=415)
    with _pypdf_repairs() as repairs:
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise UploadRefused("PDF protegido por senha: envie o arquivo sem proteção.")
            found = _ObjectWalk(reader).forbidden()
            pages = len(reader.pages)
        except UploadRefused:
            raise
        except Exception:  # noqa: BLE001 - whatever the parser trips on, the file is unreadable
            raise UploadRefused(PDF_UNREADABLE) from None
    if found:
        raise UploadRefused(_active_content_message(found), status=415)
    if repairs:
        log.info("pdf refused: pypdf had to repair it: %s", repairs[0])
        raise UploadRefused(PDF_REPAIRED)
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


def _forbidden_in_raw(data: bytes, streams: bool = True) -> str | None:
    """Return a forbidden name written outside strings, comments and (when the data may hold
    streams: a whole file, not an object stream's content) stream bodies, or None."""
    for raw in _raw_names(data, streams):
        if (name := _decode_name(raw)) in FORBIDDEN_PDF_NAMES:
            return name
    return None


def _raw_names(data: bytes, streams: bool) -> Iterator[bytes]:
    """Yield the names that may be forbidden, outside strings, comments and stream bodies."""
    position = tokens = 0
    while match := PDF_RAW_TOKEN.search(data, position):
        tokens += 1
        if tokens > MAX_PDF_NODES:
            raise UploadRefused(PDF_TOO_COMPLEX, status=413)
        token = match.group()
        if token.startswith(b"/"):
            yield token
            position = match.end()
        elif token == b"(":
            position = _string_end(data, match.start())
        elif token == b"%":
            end = PDF_LINE_END.search(data, match.end())
            position = end.end() if end else len(data)
        elif not streams:
            position = match.end()
        else:
            end = data.find(b"endstream", match.end())
            position = len(data) if end < 0 else end + len(b"endstream")


def _string_end(data: bytes, start: int) -> int:
    """Return where the literal string opened at `start` ends (its parentheses balanced)."""
    if simple := PDF_SIMPLE_STRING.match(data, start):
        return simple.end()
    depth = 0
    for parts, part in enumerate(PDF_STRING_PART.finditer(data, start)):
        if parts > MAX_PDF_NODES:
            raise UploadRefused(PDF_TOO_COMPLEX, status=413)
        if part.group() == b"(":
            depth += 1
        elif part.group() == b")":
            depth -= 1
            if depth == 0:
                return part.end()
    return len(data)


class _RepairLog(logging.Handler):
    """Collects the robustness fixes pypdf logs (warnings) while this context reads a PDF."""

    def emit(self, record: logging.LogRecord) -> None:
        if (repairs := _repairs.get()) is not None:
            repairs.append(record.getMessage())


_repairs: ContextVar[list[str] | None] = ContextVar("pdf_repairs", default=None)
_repair_log = _RepairLog(logging.WARNING)


@contextmanager
def _pypdf_repairs() -> Iterator[list[str]]:
    """Yield the list of pypdf's warnings while the block runs (this thread or greenlet only)."""
    pypdf_log = logging.getLogger("pypdf")
    if _repair_log not in pypdf_log.handlers:
        pypdf_log.addHandler(_repair_log)
        # pypdf's warnings are how it says it repaired a file: they must reach the handler
        # whatever level the root logger has.
        pypdf_log.setLevel(logging.WARNING)
    repairs: list[str] = []
    token = _repairs.set(repairs)
    try:
        yield repairs
    finally:
        _repairs.reset(token)


NUMBERS = (FloatObject, NumberObject)


class _ObjectWalk:
    """Every object of a parsed PDF, at any depth, looked at once, within the budget.

    Read: each object the cross-reference lists (plain ones first, so every object stream is
    decompressed here, within budget, before pypdf reads the objects it holds), each object
    inside each object stream (listed or not), and each object a reference points to. Direct
    objects are walked with an explicit stack (in the order they are written): no nesting
    depth hides anything.
    """

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.stack: list[Any] = []
        self.references: deque[tuple[int, int]] = deque()
        self.seen: set[tuple[int, int]] = set()
        self.nodes = 0
        self.object_stream_bytes = 0

    def forbidden(self) -> str | None:
        """Return the first forbidden name or script URL found, or None."""
        xref = self.reader.xref
        for generation in sorted(xref):
            for number in sorted(xref[generation]):
                self.follow(number, generation)
        for number in sorted(self.reader.xref_objStm):
            self.follow(number, 0)
        self.stack.append(self.reader.trailer)
        while self.stack or self.references:
            if not self.stack:
                number, generation = self.references.popleft()
                self.stack.append(self.reader.get_object(IndirectObject(number, generation, self.reader)))
                continue
            if hit := self.look_at(self.stack.pop()):
                return hit
        return None

    def follow(self, number: int, generation: int) -> None:
        """Queue an indirect object to be read, once."""
        if (number, generation) not in self.seen:
            self.count()
            self.seen.add((number, generation))
            self.references.append((number, generation))

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_PDF_NODES:
            raise UploadRefused(PDF_TOO_COMPLEX, status=413)

    def look_at(self, obj: Any) -> str | None:
        """Check one object; queue what it holds or points to (pypdf's classes are imported at
        the module's top: an import statement here ran once per object, a third of the walk)."""
        self.count()
        if isinstance(obj, NUMBERS):  # most objects of a receipt (font widths): nothing inside
            return None
        if isinstance(obj, IndirectObject):
            self.follow(obj.idnum, obj.generation)
        elif isinstance(obj, NameObject):
            return str(obj) if str(obj) in FORBIDDEN_PDF_NAMES else None
        elif isinstance(obj, TextStringObject):
            return "javascript:" if MARKUP_URL.decode() in obj.lower() else None
        elif isinstance(obj, ByteStringObject):
            return "javascript:" if MARKUP_URL in obj.lower() else None
        elif isinstance(obj, DictionaryObject):
            if isinstance(obj, StreamObject) and obj.get("/Type") == "/ObjStm":
                data = self.decompressed(obj)
                # Read as text too: pypdf loses parts of objects nested a few hundred deep.
                if found := _forbidden_in_raw(data, streams=False):
                    return found
                if MARKUP_URL in data.lower():
                    return "javascript:"
                self.stack += reversed(self.objects_in_stream(obj, data))
            for key, value in reversed(obj.items()):
                self.stack += (value, key)
        elif isinstance(obj, ArrayObject):
            self.stack += reversed(obj)
        return None

    def decompressed(self, stream: Any) -> bytes:
        """Return an object stream's data, refusing the file once all of them pass the budget."""
        data = stream.get_data()
        self.object_stream_bytes += len(data)
        if self.object_stream_bytes > MAX_PDF_OBJECT_STREAM_BYTES:
            raise UploadRefused(PDF_TOO_COMPLEX, status=413)
        return data

    def objects_in_stream(self, stream: Any, data: bytes) -> list[Any]:
        """Every object an object stream holds, whether the cross-reference points at it or not."""
        count, first = stream.get("/N"), stream.get("/First")
        if not isinstance(count, int) or not isinstance(first, int) or not 0 <= first <= len(data):
            raise PdfReadError("object stream without a valid /N and /First")
        header = data[:first].split()
        if len(header) != 2 * count or not all(token.isdigit() for token in header):
            raise PdfReadError("object stream header does not match /N")
        buffer = io.BytesIO(data)
        objects = []
        for offset in header[1::2]:
            buffer.seek(first + int(offset))
            objects.append(read_object(buffer, self.reader))
        return objects
