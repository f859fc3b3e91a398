"""Secrets kept out of log lines and error messages."""

from __future__ import annotations

import re

# scheme://[user[:password]@]host…: the userinfo ends at the LAST "@" before the path (a password may
# hold "@", ":" and anything else, raw or percent-encoded)
_URL_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<authority>[^/?#]*)")
# key=value DSNs: password=secret, password = 'a b\'c', PASSWORD="x"; the value ends where libpq's
# parser ends it (a quoted value at its closing quote, else at white space)
_DSN_PASSWORD_RE = re.compile(r"""(?P<key>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|\S+)""",
                              re.IGNORECASE)


def _mask_authority(match: re.Match[str]) -> str:
    authority = match.group("authority")
    if "@" not in authority:
        return match.group(0)
    userinfo, host = authority.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    # redis://:secret@host (a password alone) and redis://user:secret@host keep the user, never the secret
    return f"{match.group('scheme')}{user}{':***' if has_password else ''}@{host}"


def mask_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db; `password=secret` in a
    key=value DSN -> `password=***`. tests/test_units.py tries every shape of secret on it."""
    return _DSN_PASSWORD_RE.sub(r"\g<key>***", _URL_RE.sub(_mask_authority, url))
