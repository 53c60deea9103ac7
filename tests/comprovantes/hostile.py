"""Hostile files for the upload tests, built in memory."""
from __future__ import annotations

import io
import struct
import zlib


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def exe_bytes() -> bytes:
    """The start of a Windows executable (MZ/PE), padded."""
    pe_offset = 0x80
    header = bytearray(b"MZ" + b"\x90\x00" * 29 + b"\x00" * 2)
    header += b"\x00" * (0x3C - len(header)) + struct.pack("<I", pe_offset)
    header += b"\x00" * (pe_offset - len(header)) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200
    return bytes(header)


def png_with_script(valid_png: bytes) -> bytes:
    """A real PNG with an HTML page appended: an image to magic, a page to a browser sniffing it."""
    return valid_png + b"<html><body><script>alert(document.cookie)</script></body></html>"


def html_page() -> bytes:
    return b"<!DOCTYPE html><html><script>fetch('/api/comprovantes')</script></html>"


def _minimal_pdf(catalog_extra: bytes, extra_objects: list[bytes] = ()) -> bytes:
    """A hand-written one-page PDF with extra entries in its catalog."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>", *extra_objects]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def pdf_with_javascript() -> bytes:
    return _minimal_pdf(b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>")


def pdf_with_escaped_javascript() -> bytes:
    """/J#61vaScript is /JavaScript to a PDF reader."""
    return _minimal_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>")


def pdf_with_launch() -> bytes:
    return _minimal_pdf(b"/OpenAction 4 0 R", [b"<< /S /Launch /F (cmd.exe) >>"])


def pdf_with_attachment() -> bytes:
    """A PDF carrying an embedded file, written by pypdf (the attachment in a name tree)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_attachment("payload.exe", b"MZ" + b"\x00" * 100)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_compressed_javascript() -> bytes:
    """JavaScript inside a compressed object stream: invisible to a scan of the raw bytes."""
    return pdf_with_object_stream(b"/OpenAction 4 0 R", [b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"])


def pdf_with_object_stream(catalog_extra: bytes, compressed: list[bytes], listed: bool = True) -> bytes:
    """A one-page PDF whose objects 4, 5, ... sit compressed in one object stream; `listed`
    False leaves them out of the cross-reference stream (orphans only a repairing reader sees)."""
    header = b" ".join(b"%d %d" % (4 + i, offset) for i, offset in enumerate(_offsets(compressed))) + b" "
    content = zlib.compress(header + b" ".join(compressed))
    stream_number = 4 + len(compressed)
    objstm = (b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
              % (len(compressed), len(header), len(content)) + content + b"\nendstream")
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    offsets.append(out.tell())
    out.write(b"%d 0 obj\n" % stream_number + objstm + b"\nendobj\n")
    # a cross-reference stream: type 1 for plain objects, type 2 for compressed ones (in the
    # object stream), type 0 (free) for compressed ones left out
    rows = [b"\x00\x00\x00\x00\xff\xff"]
    rows += [b"\x01" + struct.pack(">I", off) + b"\x00" for off in offsets[:3]]
    rows += [(b"\x02" + struct.pack(">I", stream_number) + bytes([i])) if listed else b"\x00" * 6
             for i in range(len(compressed))]
    rows.append(b"\x01" + struct.pack(">I", offsets[3]) + b"\x00")
    xref_offset = out.tell()
    rows.append(b"\x01" + struct.pack(">I", xref_offset) + b"\x00")
    data = zlib.compress(b"".join(rows))
    out.write(b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 1] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
              b"stream\n" % (stream_number + 1, stream_number + 2, len(data)) + data + b"\nendstream\nendobj\n")
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref_offset)
    return out.getvalue()


def _offsets(bodies: list[bytes]) -> list[int]:
    """Where each body starts once joined by single spaces."""
    offsets, position = [], 0
    for body in bodies:
        offsets.append(position)
        position += len(body) + 1
    return offsets


def nested_actions(depth: int, inner: bytes = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>") -> bytes:
    """An action `depth` levels down a chain of /Next actions, each a direct dictionary."""
    action = inner
    for _ in range(depth):
        action = b"<< /S /GoTo /D [3 0 R /Fit] /Next " + action + b" >>"
    return action


def pdf_with_string_wrapped_javascript() -> bytes:
    """JavaScript between strings that read "stream" and "endstream": a raw scan that cuts
    stream bodies by pattern skips it (finding 6 of issue 12)."""
    return _minimal_pdf(b"/A (stream\n) /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> /B (endstream)")


def pdf_with_wrapped_deep_javascript(depth: int = 70) -> bytes:
    """Both tricks together: wrapped for the raw scan and deeper than 64 for the parsed scan;
    the check accepted this file before issue 12."""
    return _minimal_pdf(b"/A (stream\n) /OpenAction " + nested_actions(depth) + b" /B (endstream)")


def pdf_with_broken_xref() -> bytes:
    """A well-formed body whose cross-reference offsets all point 7 bytes too far: pypdf reads
    it only by repairing (searching the file for each object)."""
    data = _minimal_pdf(b"")
    head, _, tail = data.partition(b"xref\n")
    rows = tail.split(b"\n")
    fixed = [b"%010d 00000 n " % (int(row[:10]) + 7) if row.endswith(b" n ") else row for row in rows]
    return head + b"xref\n" + b"\n".join(fixed)


def pdf_with_pages(count: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
