"""The HTTP seam under ``tuya-device-sharing-sdk``: where tuyagate takes over the SDK's requests sessions.

The SDK builds its own ``requests.Session`` objects and calls fixed URLs (its QR login host is
hard-coded). Rather than patching the SDK, tuyagate mounts one transport adapter on each of its
sessions. The adapter

* sends the login calls meant for the SDK's login host to ``login_url`` instead (``--base-url``:
  an emulator, as for the developer login), keeping path and query;
* verifies TLS against ``ca_bundle`` when one is given (an emulator's certificate), else the
  normal trust store, whatever ``REQUESTS_CA_BUNDLE`` says; never not at all;
* caps each request at the client's timeout, or what is left of the caller's deadline (the SDK
  asks for 60 s);
* turns timeouts, refused connections, untrusted certificates and HTTP errors into
  TuyaTimeoutError, TuyaConnectionError and CloudError, with no URL path in the message: the
  SDK's refresh URL carries the refresh token, the QR calls the user code;
* counts the requests sent.

:func:`load_sdk` imports the SDK on first use and silences its logger, which at debug level
prints decrypted answers (local keys) and on errors prints exception texts with URLs; urllib3's
request log gets the same redaction filter.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from tuyagate.deadline import Deadline
from tuyagate.errors import CloudError, TuyaConnectionError, TuyaTimeoutError

__all__ = ["AppSession", "load_sdk", "redact"]

SDK_LOGIN_HOST = "apigw.iotbing.com"
_SECRETS_IN_URLS = (
    (re.compile(r"(/v1\.0/m/token/)(?!terminal/)[^/?#\s\"']+"), r"\1***"),  # the refresh token
    (re.compile(r"(qrcode/tokens/)[^/?#\s\"']+"), r"\1***"),  # a pending login's QR token
    (re.compile(r"(usercode=)[^&#\s\"']+", re.IGNORECASE), r"\1***"),
)
_sdk_lock = threading.Lock()


def redact(text: str) -> str:
    """``text`` with the refresh token, QR token and user code of any app API URL in it replaced by ``***``."""
    for pattern, replacement in _SECRETS_IN_URLS:
        text = pattern.sub(replacement, text)
    return text


class _RedactFilter(logging.Filter):
    """urllib3 logs every request line at debug level (and retried URLs at warning)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def load_sdk() -> ModuleType:
    """``tuya_sharing``, imported once with its logger silenced (it logs local keys and tokens)."""
    with _sdk_lock:
        import tuya_sharing

        sdk_logger = logging.getLogger("tuya_sharing")
        sdk_logger.setLevel(logging.CRITICAL + 1)
        sdk_logger.propagate = False
        pool_logger = logging.getLogger("urllib3.connectionpool")
        if not any(isinstance(f, _RedactFilter) for f in pool_logger.filters):
            pool_logger.addFilter(_RedactFilter())
        module: ModuleType = tuya_sharing
        return module


def _network_error(exc: BaseException, where: str) -> TuyaConnectionError | TuyaTimeoutError:
    if isinstance(exc, requests.exceptions.Timeout):
        return TuyaTimeoutError(f"the Tuya cloud at {where} did not answer in time")
    if isinstance(exc, requests.exceptions.SSLError):
        return TuyaConnectionError(
            f"cannot reach the Tuya cloud at {where}: its TLS certificate is not trusted; "
            "for an emulator, pass its certificate with --ca-bundle"
        )
    reason = redact(str(exc)).split(": ", 1)[-1] if str(exc) else type(exc).__name__
    return TuyaConnectionError(f"cannot reach the Tuya cloud at {where}: {type(exc).__name__} ({reason[:200]})")


class AppSession:
    """The settings the adapter applies, shared by every SDK session of one client (see the module docstring)."""

    def __init__(self, *, login_url: str | None = None, ca_bundle: str | None = None, timeout: float = 10.0) -> None:
        self.login_url = login_url.rstrip("/") if login_url else None
        self.verify: bool | str = ca_bundle or True
        self.timeout = timeout
        self.requests_sent = 0
        self._call_timeout = timeout
        self._sessions: list[requests.Session] = []

    def adopt(self, session: requests.Session) -> None:
        """Mount the adapter on an SDK session (for every URL it may call)."""
        adapter = _Adapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._sessions.append(session)

    @contextlib.contextmanager
    def limited(self, deadline: Deadline | None) -> Iterator[None]:
        """Requests made inside get at most what is left of ``deadline`` (read here, on the loop thread)."""
        self._call_timeout = self.timeout if deadline is None else max(1e-3, min(self.timeout, deadline.remaining()))
        try:
            yield
        finally:
            self._call_timeout = self.timeout

    def rewrite(self, url: str) -> str:
        """The URL to send: the SDK's login host swapped for ``login_url`` when one is set."""
        if self.login_url is None:
            return url
        parts = urlsplit(url)
        if parts.hostname != SDK_LOGIN_HOST:
            return url
        base = urlsplit(self.login_url)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

    def send(self, adapter: _Adapter, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = self.rewrite(request.url or "")
        request.url = url
        parts = urlsplit(url)
        where = f"{parts.scheme}://{parts.netloc}"
        kwargs["timeout"] = self._call_timeout
        kwargs["verify"] = self.verify
        self.requests_sent += 1
        try:
            response = adapter.send_upstream(request, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise _network_error(exc, where) from None
        if response.status_code >= 400:
            response.close()
            raise CloudError(
                response.status_code,
                f"HTTP {response.status_code} from {where}",
                hint="the cloud is failing; retry later" if response.status_code >= 500 else "check the endpoint",
            )
        return response

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self._sessions.clear()


class _Adapter(HTTPAdapter):
    """requests' HTTPAdapter with :meth:`AppSession.send` in front."""

    def __init__(self, owner: AppSession) -> None:
        super().__init__()
        self._owner = owner

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        return self._owner.send(self, request, **_keywords(args, kwargs))

    def send_upstream(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        return super().send(request, **kwargs)


def _keywords(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``HTTPAdapter.send``'s positional arguments (stream, timeout, verify, cert, proxies) as keywords."""
    return {**dict(zip(("stream", "timeout", "verify", "cert", "proxies"), args, strict=False)), **kwargs}
