"""Multipart form bodies (the receipt uploads) parsed by `multipart`, Bottle's parser.

Werkzeug's parser compiles two regular expressions for each request's boundary and walks the
body in Python: 0.4 ms of a 2.7 ms upload. `multipart` finds the boundaries with bytes.find
and costs 0.02 ms for the same body. Everything else about the request is Werkzeug's: the
body stream limited to MAX_CONTENT_LENGTH, `request.form` and `request.files` (FileStorage)
as before, a 413 for a body past the limits, and an empty form for a body that does not parse
(so the view says which field is missing).
"""
from __future__ import annotations

from typing import IO, Any

import flask
import multipart
from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

# A file part above this is kept in a temporary file instead of memory, as Werkzeug does
# above 500 KB: a photo of a receipt is 40 to 200 KB, a scanned PDF up to the upload limit.
SPOOL_BYTES = 1024 * 1024


class MultipartFormDataParser(FormDataParser):
    """Werkzeug's FormDataParser with multipart/form-data read by `multipart`."""

    def parse(self, stream: IO[bytes], mimetype: str, content_length: int | None,
              options: dict[str, str] | None = None) -> tuple[IO[bytes], MultiDict, MultiDict]:
        if mimetype != "multipart/form-data":
            return super().parse(stream, mimetype, content_length, options)
        try:
            form, files = self._read_parts(stream, (options or {}).get("boundary", ""), content_length)
        except multipart.ParserLimitReached:
            raise RequestEntityTooLarge() from None
        except ValueError:  # MultipartError, or a part header Werkzeug's Headers refuses (a bare CR)
            if not self.silent:
                raise
            return stream, self.cls(), self.cls()
        return stream, self.cls(form), self.cls(files)

    def _read_parts(self, stream: IO[bytes], boundary: str,
                    content_length: int | None) -> tuple[list[tuple[str, str]], list[tuple[str, Any]]]:
        if not boundary:
            raise multipart.ParserError("Missing boundary")
        parser = multipart.MultipartParser(
            stream, boundary, content_length if content_length is not None else -1,
            part_limit=self.max_form_parts or 1000, spool_limit=SPOOL_BYTES,
            memory_limit=SPOOL_BYTES * 16, disk_limit=self.max_content_length or float("inf"))
        form: list[tuple[str, str]] = []
        files: list[tuple[str, Any]] = []
        for part in parser:
            if part.filename is None:
                if self.max_form_memory_size is not None and part.size > self.max_form_memory_size:
                    raise RequestEntityTooLarge()
                # As Werkzeug reads text fields: UTF-8, whatever the part says, never an error.
                form.append((part.name, part.raw.decode("utf-8", "replace")))
            else:
                files.append((part.name, FileStorage(part.file, part.filename, part.name,
                                                     part.content_type, headers=Headers(part.headerlist))))
        return form, files


class Request(flask.Request):
    form_data_parser_class = MultipartFormDataParser
