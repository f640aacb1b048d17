"""Log hygiene: control characters from clients are escaped in every log line."""
import logging

from server.logs import EscapingFilter, escape_controls


def test_control_and_format_characters_become_visible_escapes():
    assert escape_controls("plain text, ünïcode ✓") == "plain text, ünïcode ✓"
    assert escape_controls("a\nb\r\x1b[31m\u202e") == "a\\x0ab\\x0d\\x1b[31m\\u202e"


def test_client_values_in_log_arguments_are_escaped(caplog):
    logger = logging.getLogger("draftguard.test")
    logger.addFilter(EscapingFilter())
    with caplog.at_level(logging.INFO, logger="draftguard.test"):
        logger.info("unhandled error on %s %s", "GET", "/v1/x\nFORGED 200")
        logger.info("by name %(path)s", {"path": "/y\r\nFORGED"})
    assert caplog.messages == ["unhandled error on GET /v1/x\\x0aFORGED 200", "by name /y\\x0d\\x0aFORGED"]
