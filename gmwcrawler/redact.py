"""Secrets kept out of log lines and error messages."""

from __future__ import annotations

import re

_SECRET_RE = re.compile(r"(?P<head>://[^:/@]*:)[^@]*@")
_DSN_PASSWORD_RE = re.compile(r"(password\s*=\s*)\S+")


def mask_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db (also key=value DSNs)."""
    return _DSN_PASSWORD_RE.sub(r"\1***", _SECRET_RE.sub(r"\g<head>***@", url))
