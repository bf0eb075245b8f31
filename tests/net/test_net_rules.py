"""Pure rules of the polite layer: identity, floors, Retry-After parsing, redaction, block recognition."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from collectors.net import (
    ENV_CONTACT,
    TOOLKIT_NAME,
    Blocked,
    Policy,
    PolicyError,
    RetryAfterTooLong,
    block_reason_in_html,
    parse_retry_after,
    redact_text,
    redact_url,
    register_secret,
    toolkit_version,
)
from collectors.net.redact import install_log_redaction


def test_user_agent_names_toolkit_version_and_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CONTACT, "ada@example.org")
    agent = Policy().user_agent()
    assert agent == f"{TOOLKIT_NAME}/{toolkit_version()} ( ada@example.org )"
    assert "Mozilla" not in agent
    assert Policy(contact="https://example.org/me").user_agent().endswith("( https://example.org/me )")


def test_contact_is_validated_and_required_where_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CONTACT, raising=False)
    assert Policy().user_agent() == f"{TOOLKIT_NAME}/{toolkit_version()}"
    with pytest.raises(PolicyError, match="no contact configured.*GENRE_CONTACT"):
        Policy(require_contact=True).user_agent()
    with pytest.raises(PolicyError, match="neither an e-mail address nor an http"):
        Policy(contact="me\r\nX-Injected: 1").user_agent()
    monkeypatch.setenv(ENV_CONTACT, "not a contact")
    with pytest.raises(PolicyError, match=r"\$GENRE_CONTACT"):
        Policy().user_agent()


def test_known_hosts_have_floors_no_policy_can_undercut() -> None:
    fast = Policy(min_interval_s=0.01, host_intervals={"rateyourmusic.com": 0.5})
    assert fast.interval_for("musicbrainz.org") == 1.0
    assert fast.interval_for("beta.musicbrainz.org") == 1.0
    assert fast.interval_for("rateyourmusic.com") == 5.0
    assert fast.interval_for("127.0.0.1:8080") == 0.01
    assert Policy(min_interval_s=3, host_intervals={"127.0.0.1:1": 0.2}).interval_for("127.0.0.1:1") == 0.2
    with pytest.raises(ValueError, match="min_interval_s must be >= 0"):
        Policy(min_interval_s=-1)
    with pytest.raises(ValueError, match="timeout_s"):
        Policy(timeout_s=(0, 5))


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad) is None


def test_secrets_are_redacted_from_urls_text_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    url = "https://ws.example/2.0/?method=track.getTopTags&api_key=0123456789abcdef&artist=A&sk=sess1234"
    assert "0123456789abcdef" not in redact_url(url) and "sess1234" not in redact_url(url)
    assert "artist=A" in redact_url(url)
    assert "REDACTED" in redact_text(f"GET {url} failed")
    assert "tok3n-value" not in redact_text("Authorization: Bearer tok3n-value-long")
    register_secret("s3cr3t-client-value")
    assert "s3cr3t-client-value" not in redact_text("oops s3cr3t-client-value leaked")
    assert redact_text("keyboard=1&monkey=2") == "keyboard=1&monkey=2"  # only whole parameter names
    install_log_redaction()
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logging.getLogger("urllib3.connectionpool").debug('"GET %s HTTP/1.1" 200', "/2.0/?api_key=0123456789abcdef")
    assert "0123456789abcdef" not in caplog.text and "api_key=REDACTED" in caplog.text


def test_stop_exceptions_carry_redacted_urls() -> None:
    exc = RetryAfterTooLong("https://h/x?api_key=zzzzzzzzzz", 3600, 120, 429)
    assert "zzzzzzzzzz" not in str(exc) and "3600 s" in str(exc) and "120 s cap" in str(exc)
    blocked = Blocked("https://h/y?token=abcdefgh123", "Cloudflare challenge", 403)
    assert "abcdefgh123" not in str(blocked) and "never solves" in str(blocked)


@pytest.mark.parametrize(("html", "status", "expected"), [
    ("<html><head><title>Just a moment...</title></head><body>checking</body></html>", 503, "Cloudflare"),
    ("<html><head><title>RYM - IP blocked</title></head><body></body></html>", 200, "blocked this IP"),
    ('<html><body><form id="sec_verify" method="post"><input></form></body></html>', 200, "sec_verify"),
    ('<html><head><title>Attention Required!</title></head><body>x</body></html>', 403, "403 challenge"),
    ('<html><body><script src="/cdn-cgi/challenge-platform/x.js"></script></body></html>', 403, "403 challenge"),
])
def test_block_pages_are_recognised(html: str, status: int, expected: str) -> None:
    assert expected in (block_reason_in_html(html, status) or "")


def test_ordinary_pages_are_not_block_pages() -> None:
    assert block_reason_in_html("<html><head><title>Loveless by My Bloody Valentine</title></head></html>") is None
    assert block_reason_in_html('<html><body><div class="g-recaptcha"></div></body></html>', 200) is None
    assert block_reason_in_html("<html><head><title>Forbidden</title></head></html>", 403) is None
