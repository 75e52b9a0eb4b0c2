"""Attachments people upload (change requests, training courses): what is accepted and where it goes.

The content decides, never the browser's claim: the first bytes must be one of the known kinds and
the file name's extension must agree with them. Files are stored under random names in a folder
of UPLOAD_FOLDER, outside the static folder, and served only as downloads.
"""
from __future__ import annotations

import os
import unicodedata

from flask import current_app

_OFFICE = "application/vnd.openxmlformats-officedocument."
#: First bytes → (extension → content type) of the binary kinds accepted.
_KINDS = {
    b"%PDF-": {".pdf": "application/pdf"},
    b"\x89PNG\r\n\x1a\n": {".png": "image/png"},
    b"\xff\xd8\xff": {".jpg": "image/jpeg", ".jpeg": "image/jpeg"},
    b"GIF87a": {".gif": "image/gif"},
    b"GIF89a": {".gif": "image/gif"},
    b"PK\x03\x04": {".docx": _OFFICE + "wordprocessingml.document", ".xlsx": _OFFICE + "spreadsheetml.sheet",
                    ".pptx": _OFFICE + "presentationml.presentation", ".zip": "application/zip"},
}
#: Text kinds, accepted when the bytes decode as text in some encoding.
_TEXT = {".txt": "text/plain", ".md": "text/plain", ".log": "text/plain", ".csv": "text/csv"}


def sniff(head: bytes, filename: str) -> str | None:
    """The content type of a file from its first bytes and its name; None when refused."""
    extension = os.path.splitext(filename.lower())[1]
    for magic, types in _KINDS.items():
        if head.startswith(magic):
            return types.get(extension)
    if extension in _TEXT and b"\x00" not in head:
        from charset_normalizer import from_bytes
        if from_bytes(head).best() is not None:
            return _TEXT[extension]
    return None


def clean_filename(filename: str, default: str = "file") -> str:
    """The last part of an uploaded file's name, without control characters, at most 200 characters
    (cut from the front so the extension stays)."""
    name = os.path.basename((filename or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or default)[-200:]


def folder(name: str) -> str:
    """UPLOAD_FOLDER/<name>, created when missing."""
    path = os.path.join(current_app.config["UPLOAD_FOLDER"], name)
    os.makedirs(path, exist_ok=True)
    return path
