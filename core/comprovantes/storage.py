"""Where receipt files live: under var/uploads, outside every served folder, under random names."""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from core.settings import get_settings


def uploads_dir() -> Path:
    """Return the uploads folder (created on first use, readable by its owner only)."""
    folder = Path(get_settings().var_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(data: bytes, extension: str) -> str:
    """Write the bytes under a new random name and return it (relative to the uploads folder).

    Written to a temporary file first and renamed, so a reader never sees half a file.
    """
    month = datetime.now(timezone.utc).strftime("%Y/%m")
    folder = uploads_dir() / month
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{month}/{secrets.token_hex(16)}{extension}"
    target = folder / name.rsplit("/", 1)[1]
    temporary = target.with_name(f".{target.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return name


def path_of(name: str) -> Path:
    """Return the absolute path of a stored name, refusing anything outside the uploads folder."""
    root = uploads_dir().resolve()
    path = (root / name).resolve()
    if root not in path.parents:
        raise ValueError(f"stored name outside the uploads folder: {name!r}")
    return path


def read(name: str) -> bytes:
    return path_of(name).read_bytes()


def delete(name: str) -> None:
    path_of(name).unlink(missing_ok=True)
    preview_path(name).unlink(missing_ok=True)


def preview_path(name: str) -> Path:
    """Where a stored PDF's first page, rendered as PNG for the reviewers, is kept."""
    return path_of(name).with_name(path_of(name).name + ".pagina1.png")


def read_preview(name: str, render: Callable[[bytes], bytes]) -> bytes:
    """Return the PNG preview of a stored PDF, rendering it (`render(pdf_bytes)`) the first
    time only: a render costs the web worker about 0.1 s of CPU."""
    path = preview_path(name)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    image = render(read(name))
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(image)
    os.replace(temporary, path)  # two reviewers at once: either whole copy wins
    return image
