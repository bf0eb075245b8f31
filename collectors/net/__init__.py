"""The ONE polite HTTP layer every collector uses (no module builds its own ``requests.Session``).

Usage::

    from collectors.net import Policy, make_session, StopRun, RobotsDisallowed

    policy = Policy(min_interval_s=1.0, cache_path=layout.cache / "http" / "mysource.sqlite")
    session = make_session(policy)          # a requests.Session subclass (PoliteSession)
    try:
        response = session.get(url)          # cached, spaced, retried; raises on blocks
    except RobotsDisallowed:                 # this URL is off limits: skip it
        ...
    except StopRun as exc:                   # Blocked / RetryAfterTooLong / Unreachable: save progress, stop
        ...

    # Documented APIs with their own rate rules: no robots.txt, usually no cache:
    spotify = spotipy.Spotify(auth_manager=..., requests_session=make_session(Policy.api(min_interval_s=0.1)))
    ytmusic = YTMusic(requests_session=make_session(Policy.api(min_interval_s=1.0)))

What every session does (settings in :class:`Policy`):

* cache in front (requests-cache, SQLite at ``cache_path``, never expires by default): a hit makes
  no request and does not wait; challenge pages and 5xx are never cached;
* robots.txt of each site fetched once through the same session and obeyed (``obey_robots``);
* per-host minimum interval plus jitter, thread-safe and shared by every session of the process,
  applied after errors too; floors for known hosts (``HOST_FLOORS``) that no policy undercuts;
* Retry-After (seconds or HTTP-date) honoured up to ``retry_after_cap_s``, beyond it
  ``RetryAfterTooLong``; exponential backoff with jitter for 429/5xx/network errors (tenacity);
  after the last retry the last response is returned (or the network error re-raised);
* no server reached (name lookup failed, connection refused, network unreachable): a short retry
  (``unreachable_retries`` x ``unreachable_wait_s``, any method: nothing was sent), then ``Unreachable``
  ("cannot reach HOST: check your connection"): offline, a stage stops in seconds, not minutes;
  :func:`connect_failure` is the same test for clients outside this layer (yt-dlp);
* timeouts on every request; an honest User-Agent ``genre-dataset-toolkit/VERSION ( CONTACT )`` with
  the contact from ``Policy.contact`` or ``$GENRE_CONTACT`` (it replaces any User-Agent a caller sets);
* block detection (HTTP 403 challenge, ``cf-mitigated: challenge``, "Just a moment...",
  "IP blocked", ``form#sec_verify``) raising ``Blocked``; nothing here solves or evades anything;
* secrets (``api_key=``, tokens, registered values) redacted from logs and exception messages.
"""

from .blocks import block_reason, block_reason_in_html
from .errors import Blocked, NetError, PolicyError, RetryAfterTooLong, RobotsDisallowed, StopRun, Unreachable
from .limiter import HostLimiter, shared_limiter
from .policy import ENV_CONTACT, HOST_FLOORS, TOOLKIT_NAME, Policy, check_contact, toolkit_version
from .reach import ConnectFailure, connect_failure
from .redact import redact_text, redact_url, register_secret
from .session import PoliteSession, host_key, make_session, parse_retry_after

__all__ = [
    "ENV_CONTACT", "HOST_FLOORS", "TOOLKIT_NAME", "Blocked", "ConnectFailure", "HostLimiter", "NetError", "Policy", "PoliteSession",
    "PolicyError", "RetryAfterTooLong", "RobotsDisallowed", "StopRun", "Unreachable", "block_reason",
    "block_reason_in_html", "check_contact", "connect_failure", "host_key", "make_session", "parse_retry_after", "redact_text", "redact_url",
    "register_secret", "shared_limiter", "toolkit_version",
]
