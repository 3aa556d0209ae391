"""Channels: deliver one message to one Apprise URL, keeping its secrets out of sight.

Room: delivery (warroom/delivery), the I/O library of the activities. The notify activity is synchronous and runs in a thread pool, so a
delivery here blocks: one HTTP (or SMTP, ...) exchange, one attempt, bounded by `timeout`.

Channel URLs are Apprise URLs (docs/channels.md) with secrets as `${NAME}` placeholders,
filled from the worker's environment at send time, so a secret is never in a workflow's input
or history. Three promises to the caller:

- one attempt: Apprise's own retries (`?retry=N`, tag suffixes) are switched off and
  `?optional=yes` is ignored. Retrying is Temporal's job, behind the idempotency record;
  a hidden second attempt inside Apprise would be a second page the record never saw.
- a failed send is an Outcome(ok=False, error=...), never an exception; only configuration
  problems (ChannelError) raise, because retrying them cannot help.
- secrets do not leak: `redact()` masks URLs for logs and the timeline, error texts are
  scrubbed, and while a delivery runs the values it expanded are masked in every record of
  the `apprise` and `urllib3` loggers (Apprise's own secure logging covers literal URLs).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Apprise is imported where a URL is loaded or sent: a rehearsal without contact points never pays for it.

from warroom import secrets

__all__ = ["ChannelError", "HEADER_SCHEMES", "Outcome", "carries_idempotency_key", "deliver",
           "expand_secrets", "redact"]

# Apprise's generic webhooks take custom HTTP headers as `+Name=value` URL arguments, kept in
# the plugin's `headers` dict (plugins/custom_json.py, custom_form.py, custom_xml.py) and
# sent with every request; deliver() adds the key there. Other services build their own
# requests to a vendor API and offer no header hook: the key cannot travel with those.
HEADER_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
IDEMPOTENCY_HEADER = "Idempotency-Key"

_MAX_ERROR = 240


class ChannelError(Exception):
    """A channel is misconfigured (bad URL, unknown scheme, missing secret). Not retryable."""


@dataclass
class Outcome:
    ok: bool
    error: str = ""  # short, secret-free reason on failure


# --- secrets (warroom/secrets.py: the `${NAME}` scheme, read at send time, one masker) -------

def expand_secrets(url: str, env: Mapping[str, str] | None = None) -> str:
    """Replace `${NAME}` placeholders with their values (warroom.secrets).

    Values are inserted verbatim: a secret with URL-special characters (`/ @ : ? # %`) in a
    user or password position must be stored percent-encoded. A missing (or empty) variable
    raises ChannelError naming the variable, never a value.
    """
    return _expand(url, env)[0]


def _expand(url: str, env: Mapping[str, str] | None) -> tuple[str, tuple[str, ...]]:
    try:
        return secrets.expand(url, env)
    except secrets.MissingSecret as err:
        raise ChannelError("channel URL needs environment variable(s) not set: " + ", ".join(err.names)) from None


# Secrets expanded by the delivery running in this thread / context.
_active_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "warroom_channel_secrets", default=())
# Set while redact() loads a URL only to render it: Apprise's complaints about it are noise,
# and a plugin rejecting a malformed literal token quotes the token.
_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("warroom_channel_muted", default=False)


class _SecretFilter(logging.Filter):
    """Masks the running delivery's secret values in records of the logger it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _muted.get():
            return False
        hidden = _active_secrets.get()
        if hidden:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is logging's problem, not ours
                return True
            scrubbed = secrets.mask(message, hidden)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


_filter_lock = threading.Lock()
_filter_installed = False


def _install_log_filter() -> None:
    """Once per process: Apprise logs through the single `apprise` logger, requests through
    urllib3's (which shows request paths, where webhook tokens often live, at DEBUG)."""
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            for name in ("apprise", "urllib3.connectionpool"):
                logging.getLogger(name).addFilter(_SecretFilter())
            _filter_installed = True


# --- URLs ----------------------------------------------------------------------------------

def _scheme(url: str) -> str:
    return url.partition("://")[0].strip().lower() if "://" in url else ""


def carries_idempotency_key(url: str) -> bool:
    """True when deliveries to `url` send the idempotency key as an `Idempotency-Key` header."""
    return _scheme(url) in HEADER_SCHEMES


def _set_header(plugin, name: str, value: str) -> None:
    """What a `+Name=value` URL argument does (it fills the plugin's `headers` dict), done on
    the instance: no URL surgery, so a `#`, `&` or `+` in the URL or the key cannot misparse.
    A header the URL already sets under this name (any case) is replaced."""
    headers = getattr(plugin, "headers", None)
    if not isinstance(headers, dict):
        raise ChannelError(f"{type(plugin).__name__} has no custom headers")  # Apprise changed
    for existing in [k for k in headers if str(k).strip().lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def _instantiate(url: str, asset: AppriseAsset, hidden: tuple[str, ...], shown: str):
    import apprise
    from apprise.manager_plugins import NotificationManager  # a singleton: the loaded plugins

    scheme = _scheme(url)
    if not scheme:
        raise ChannelError(f"not a channel URL (expected scheme://...): {shown}")
    try:
        plugin = apprise.Apprise.instantiate(url, asset=asset, suppress_exceptions=False)
    except Exception as err:  # the plugin refused its arguments (bad token, bad target, ...)
        raise ChannelError(f"invalid {scheme}:// channel URL {shown}: "
                           f"{_short(secrets.mask(str(err), hidden))}") from None
    if plugin is None:
        if scheme not in NotificationManager() and scheme not in ("http", "https"):
            raise ChannelError(f"unknown channel scheme {scheme}:// in {shown}")
        raise ChannelError(f"could not parse channel URL {shown}")
    return plugin


@functools.lru_cache(maxsize=4096)
def redact(url: str) -> str:
    """`url` with passwords, tokens and keys masked: safe for logs and the timeline.

    Remembered per URL (a pure function of its text): a page shows each contact point several
    times (plan, claim, try, result), and Apprise's parse behind it cost ~0.8 ms a call, 40 %
    of a page's CPU (issue 13).

    Uses Apprise's privacy rendering (`plugin.url(privacy=True)`), then also masks what that
    leaves visible on generic webhooks: custom header values (`+Authorization=...`), GET
    parameters (`-token=...`) and long path segments (webhook tokens). `${NAME}` placeholders
    stay as they are (they name a secret, they are not one). A URL Apprise cannot load is
    masked generically: scheme, host, port and short path parts stay; user, password, query
    values and long path parts are masked.
    """
    import apprise
    from apprise import AppriseAsset

    _install_log_filter()
    token = _muted.set(True)
    try:
        plugin = apprise.Apprise.instantiate(url, asset=AppriseAsset(), suppress_exceptions=False)
    except Exception:
        plugin = None
    finally:
        _muted.reset(token)
    if plugin is None and "://" not in url:
        return secrets.MASK
    shown = plugin.url(privacy=True) if plugin is not None else url
    try:
        parts = urlsplit(shown)
    except ValueError:
        return f"{_scheme(url) or 'url'}://****"
    if plugin is None or _scheme(shown) in HEADER_SCHEMES:
        parts = _mask_generic(parts, keep_user=plugin is not None)
    return urlunsplit(parts)


def _mask_segment(seg: str) -> str:
    if not seg or secrets.PLACEHOLDER.fullmatch(seg):
        return seg
    if len(seg) >= 16 or (len(seg) >= 8 and any(c.isdigit() for c in seg) and any(c.isalpha() for c in seg)):
        return f"{seg[0]}...{seg[-1]}"
    return seg


def _mask_generic(parts: SplitResult, *, keep_user: bool) -> SplitResult:
    # Split the netloc by hand: .hostname lower-cases, which would mangle ${NAME}.
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if not (keep_user or secrets.PLACEHOLDER.fullmatch(user)):
            user = secrets.MASK
        if colon and not (keep_user and set(password) == {"*"}):  # else already masked by Apprise
            password = secrets.MASK
        host = f"{user}{':' if colon else ''}{password if colon else ''}@{host}"
    path = "/".join(_mask_segment(s) for s in parts.path.split("/"))
    query = []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        secretish = k[:1] in "+-" or not keep_user
        if secretish and v and k.lower() != f"+{IDEMPOTENCY_HEADER.lower()}" and not secrets.PLACEHOLDER.fullmatch(v):
            v = secrets.MASK
        query.append((k, v))
    return parts._replace(netloc=host, path=path, query=urlencode(query, quote_via=quote, safe="*${}"),
                          fragment=_mask_segment(parts.fragment))


# --- delivery ------------------------------------------------------------------------------

def deliver(url: str, *, subject: str, body: str, idempotency_key: str,
            env: Mapping[str, str] | None = None, timeout: float = 10) -> Outcome:
    """Send one message to one Apprise URL, once.

    The idempotency key rides along as an `Idempotency-Key` header on json://, jsons://,
    form://, forms://, xml://, xmls:// URLs (see carries_idempotency_key); other services
    cannot carry it, so for them the delivery record is the only guard against duplicates.
    `timeout` bounds connecting and each wait for the peer (requests' semantics); Apprise's
    wall-clock service timeout is off because it abandons a send that may still go out.
    Raises ChannelError for configuration problems; any failure to send returns ok=False.
    """
    import apprise
    from apprise import AppriseAsset, NotifyFormat

    _install_log_filter()
    shown = redact(url)
    expanded, hidden = _expand(url, env)
    token = _active_secrets.set(hidden)
    try:
        if _scheme(expanded) == "slack":
            sent = _slack_bot_page(expanded, subject=subject, body=body, idempotency_key=idempotency_key,
                                   env=env, timeout=timeout, hidden=hidden)
            if sent is not None:
                return sent
        asset = AppriseAsset(async_mode=False, service_timeout=0)
        plugin = _instantiate(expanded, asset, hidden, shown)
        if carries_idempotency_key(expanded):
            _set_header(plugin, IDEMPOTENCY_HEADER, idempotency_key)
        plugin.retry = 0
        plugin.optional = False  # an "optional" failure would be reported as a success
        plugin.socket_connect_timeout = plugin.socket_read_timeout = float(timeout)
        try:
            result = apprise.Apprise(plugin, asset=asset).notify(
                body=body, title=subject, body_format=NotifyFormat.TEXT, log_level=logging.WARNING)
        except Exception as err:  # a plugin bug must not look like a configuration problem
            return Outcome(ok=False, error=_short(secrets.mask(f"{type(err).__name__}: {err}", hidden)))
        if result:
            return Outcome(ok=True)
        return Outcome(ok=False, error=_reason(result, hidden))
    finally:
        _active_secrets.reset(token)


def _slack_bot_page(url: str, *, subject: str, body: str, idempotency_key: str, env: Mapping[str, str] | None,
                    timeout: float, hidden: tuple[str, ...]) -> Outcome | None:
    """A `slack://xoxb-…/<user or channel>` page goes through the Slack app (slack-sdk), so it
    carries the Acknowledge, Take command and Resolve buttons (war_rooms.send_slack_page); any
    other Slack URL (an incoming webhook) is Apprise's: None. The Web API's address is the war
    room's, WARROOM_SLACK_API_URL (tests point it at their fake Slack)."""
    from warroom.delivery import war_rooms

    if war_rooms.slack_page_target(url) is None:
        return None
    try:
        war_rooms.send_slack_page(url, subject=subject, body=body, idempotency_key=idempotency_key,
                                  api_url=secrets.read("WARROOM_SLACK_API_URL", env), timeout=timeout)
    except war_rooms.WarRoomError as err:
        return Outcome(ok=False, error=_short(secrets.mask(str(err), hidden)))
    return Outcome(ok=True)


def _reason(result, hidden: tuple[str, ...]) -> str:
    messages: list[str] = []
    for entry in result.logs():
        if entry.level in ("WARNING", "ERROR", "CRITICAL") and entry.message not in messages:
            messages.append(entry.message.strip())
    text = "; ".join(m for m in messages if m) or f"delivery failed ({result.status.name.lower()})"
    return _short(secrets.mask(text, hidden))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."
