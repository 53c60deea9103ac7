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
    js_object = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"
    # object stream holding object 4: "4 0 " header then the object
    header = b"4 0 "
    content = zlib.compress(header + js_object)
    objstm = (b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
              % (len(header), len(content)) + content + b"\nendstream")
    objects = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    offsets.append(out.tell())
    out.write(b"5 0 obj\n" + objstm + b"\nendobj\n")
    # a cross-reference stream: type 1 for plain objects, type 2 for object 4 (in stream 5)
    rows = [b"\x00\x00\x00\x00\xff\xff"]
    rows += [b"\x01" + struct.pack(">I", off) + b"\x00" for off in offsets[:3]]
    rows += [b"\x02" + struct.pack(">I", 5) + b"\x00", b"\x01" + struct.pack(">I", offsets[3]) + b"\x00"]
    xref_offset = out.tell()
    rows.append(b"\x01" + struct.pack(">I", xref_offset) + b"\x00")
    data = zlib.compress(b"".join(rows))
    out.write(b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 1] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
              b"stream\n" % len(data) + data + b"\nendstream\nendobj\n")
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref_offset)
    return out.getvalue()


def pdf_with_pages(count: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
