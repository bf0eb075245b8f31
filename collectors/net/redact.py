"""Keep secrets (API keys, tokens, signatures) out of logs, exceptions and reports.

URLs of several APIs carry the key in the query string (Last.fm ``api_key``);
every URL the layer logs or puts in an exception goes through ``redact_url``,
and any text through ``redact_text``.  Values registered with
``register_secret`` are scrubbed wherever they appear.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "REDACTED"

#: Query parameters whose values are secrets (compared case-insensitively).
SECRET_PARAMS: frozenset[str] = frozenset({
    "api_key", "apikey", "key", "token", "access_token", "refresh_token", "id_token", "client_secret",
    "secret", "password", "passwd", "pwd", "sig", "api_sig", "signature", "sk", "session", "code", "auth",
})

_PARAM_RE = re.compile(
    r"(?i)(?<![\w-])(" + "|".join(sorted(map(re.escape, SECRET_PARAMS), key=len, reverse=True))
    + r")(=|%3D)([^&\s#'\"<>]+)")
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Scrub this exact value from every later redaction (ignored when short or empty)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact_text(text: str) -> str:
    """Text with secret query values, bearer tokens and registered secrets masked."""
    text = _PARAM_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", str(text))
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def redact_url(url: str | None) -> str:
    """A URL whose secret query parameters are replaced by ``REDACTED``."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.query:
        pairs = [(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, True)]
        parts = parts._replace(query=urlencode(pairs, safe="/:+,"))
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", f":{MASK}@"))
    return redact_text(urlunsplit(parts))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the rendered message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave the record alone
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()
#: Third-party loggers that print request URLs (at debug level).
URL_LOGGERS = ("urllib3.connectionpool", "requests_cache.session", "requests_cache.policy.actions",
               "requests_cache.backends.base", "spotipy.client", "collectors.net.session",
               "collectors.net.robots")


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers that print URLs (idempotent)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
