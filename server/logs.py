"""Log hygiene: nothing a client sends can start a new line, or hide one, in a log.

Request paths, headers and exception messages reach the logs; a `%0a` in a URL would otherwise
write a forged line. Control characters in any such value are written as escapes (`\\x0a`).
The app's own messages and tracebacks are left as they are.
"""
from __future__ import annotations

import logging
import unicodedata

from gunicorn.glogging import Logger


def escape_controls(value: str) -> str:
    """`value` with every control or format character (newlines, escapes, bidi overrides) as
    a visible escape; other text unchanged."""
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp")
                   else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") for ch in value)


class EscapingFilter(logging.Filter):
    """Escapes control characters in a record's arguments, where client-sent values go."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(escape_controls(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: escape_controls(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with every access-log field escaped (`--logger-class server.logs.GunicornLogger`)."""

    def atoms(self, resp, req, environ, request_time):
        return {key: escape_controls(value) if isinstance(value, str) else value
                for key, value in super().atoms(resp, req, environ, request_time).items()}


def install() -> None:
    """Escape client-sent values in every record the app's root handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, EscapingFilter) for f in handler.filters):
            handler.addFilter(EscapingFilter())
