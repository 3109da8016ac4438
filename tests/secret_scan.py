"""A suite-wide secret scan: no local key, cloud secret, firmware password or token shows in any log
record, gateway answer or test output of the whole run.

Loaded by tests/conftest.py. While the suite runs it

- learns every secret the tests use, where they are made: emulated devices' local keys
  (``SimDevice``), emulated and real cloud projects' secrets (``CloudConfig``, ``TuyaCloudClient``),
  firmware passwords (``HttpTransport``), everything put in a vault (``Vault.put``), API tokens
  (``create_token``) and the cloud-compatible API's access tokens (``CloudTokens.issue``), and the
  emulated cloud's access tokens (``TokenStore.issue``);
- collects every log record of ``tuyagate.*`` (at DEBUG: this plugin sets that logger's level, except
  in tests marked ``default_logging``, which count calls per operation) and
  every WARNING+ record of other libraries, with exception texts; every answer body the gateway sends
  (at its front door, whichever client asked: httpx, tinytuya's SDK peers, raw sockets, browsers;
  not in ``default_logging`` tests); and
  each test's captured stdout and stderr, including what tests read with ``capsys``.

At the end of the session it searches everything collected for every secret learnt and prints
``secret scan: N secrets (by kind), M log records, K answers, J outputs: found 0``. Any secret found
fails the session, naming the test that produced the text and what kind of secret it was (never the
secret itself). Secrets shorter than 8 characters, and placeholder test values ("g" * 32,
"0123456789abcdef"), are not searched: they match innocent text by chance. Two
texts carry a secret by design and are left out: the answer that issues an access token (that token
only), and a test's own HTTP client logging a request it sends to a gateway (a Tasmota client passes
its API token as ``?password=``).

A test that prints a secret on purpose (``tuyagate tokens create`` shows the new token once) marks
itself ``@pytest.mark.shows_secret("why")``: its captured output is not searched; its logs and
answers still are. tests/test_secret_scan.py plants a secret in each collected channel and checks
that the scan finds it.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

MIN_SECRET = 8
# Test values made of a handful of characters ("g" * 32) or of the alphabet in order ("0123456789abcdef")
# turn up in innocent text (a device id "bf0123456789abcdef01", a hex table in Swagger UI's script):
# they are counted as placeholders, not searched.
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz" * 3
MAX_BODY = 256 * 1024  # bytes of one answer kept (an event stream can go on for long)
# Tokens issued while the gateway serves a request: that request's answer is how they are handed out.
_ISSUED: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("issued", default=None)


@dataclass
class SecretScan:
    """What the plugin learnt and collected; ``findings()`` searches one in the other."""

    secrets: dict[str, str] = field(default_factory=dict)  # secret -> kind
    texts: dict[str, str] = field(default_factory=dict)  # unique text -> first test that produced it
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    current: str = "(session)"
    exempt_output: set[str] = field(default_factory=set)
    gateways: set[str] = field(default_factory=set)  # host:port of every gateway the tests started
    placeholders: set[str] = field(default_factory=set)

    def secret(self, value: Any, kind: str) -> None:
        if isinstance(value, bytes):
            try:
                value = value.decode()
            except UnicodeDecodeError:
                return
        if not isinstance(value, str) or len(value) < MIN_SECRET or value in self.secrets:
            return
        if len(set(value)) < 5 or value.lower() in _ALPHABET:
            self.placeholders.add(value)
            return
        self.secrets[value] = kind

    def text(self, channel: str, value: str | bytes) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not value:
            return
        self.counts[channel] += 1
        self.texts.setdefault(value, self.current)

    def findings(self) -> list[tuple[str, str]]:
        """(test, kind of secret) for every secret found in a text."""
        joined = "\n\x00\n".join(self.texts)
        found: set[tuple[str, str]] = set()
        for secret, kind in self.secrets.items():
            if secret in joined:
                found |= {(test, kind) for text, test in self.texts.items() if secret in text}
        return sorted(found)

    def forget(self, test: str) -> None:
        """Drop what one test produced (the self-test's planted secrets)."""
        for text in [t for t, owner in self.texts.items() if owner == test]:
            del self.texts[text]

    def summary(self) -> str:
        kinds: dict[str, int] = defaultdict(int)
        for kind in self.secrets.values():
            kinds[kind] += 1
        by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        c = self.counts
        return (
            f"secret scan: {len(self.secrets)} secrets ({by_kind}; {len(self.placeholders)} placeholder "
            f"test values not searched); scanned {c['log']} log records, "
            f"{c['answer']} gateway answers, {c['output']} captured outputs ({len(self.texts)} distinct texts)"
        )


SCAN = SecretScan()


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self._exceptions = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 -- a record whose arguments do not format is still scanned raw
            text = f"{record.msg!r} {record.args!r}"
        if record.name == "httpx" and any(g in text for g in SCAN.gateways):
            # A test's own HTTP client logging its request to a gateway (Tasmota clients send the API
            # token as ?password=): the client's log, not the gateway's.
            SCAN.counts["test client log (not scanned)"] += 1
            return
        if record.exc_info:
            text += "\n" + self._exceptions.formatException(record.exc_info)
        SCAN.text("log", text)


# ----------------------------------------------------------------------------- learning secrets


def _wrap_init(cls: type, learn: Callable[..., None]) -> None:
    original = cls.__init__  # type: ignore[misc]

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        learn(self, *args, **kwargs)

    cls.__init__ = init  # type: ignore[misc]


def _wrap_method(owner: Any, name: str, learn: Callable[[Any, tuple[Any, ...], dict[str, Any]], None]) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        learn(result, args, kwargs)
        return result

    setattr(owner, name, method)


def _url_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _learn_secrets() -> None:
    from tuyagate.cloud.client import TuyaCloudClient
    from tuyagate.devices.vault import Vault
    from tuyagate.flashed.http_base import HttpTransport
    from tuyagate.gateway import auth, cloud_tokens
    from tuyagate.sim import cloud_state
    from tuyagate.sim.device import SimDevice

    def device(self: Any, *args: Any, **kwargs: Any) -> None:
        key = kwargs.get("local_key", args[1] if len(args) > 1 else None)
        SCAN.secret(key, "local key")

    _wrap_init(SimDevice, device)
    _wrap_init(cloud_state.CloudConfig, lambda self, *a, **k: SCAN.secret(self.secret, "cloud secret"))
    _wrap_init(
        TuyaCloudClient,
        lambda self, client_id, secret, *a, **k: SCAN.secret(secret, "cloud secret"),
    )

    def transport(self: Any, url: str, *args: Any, password: str | None = None, **kwargs: Any) -> None:
        SCAN.secret(password, "firmware password")
        SCAN.secret(_url_password(url), "firmware password")

    _wrap_init(HttpTransport, transport)

    def vault_put(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        name, value = [*args[1:], kwargs.get("name"), kwargs.get("value")][:2]
        SCAN.secret(value, f"vault entry {name}")

    _wrap_method(Vault, "put", vault_put)
    _wrap_method(auth, "create_token", lambda result, args, kwargs: SCAN.secret(result[1], "API token"))

    def issued(result: Any, args: Any, kwargs: Any) -> None:
        SCAN.secret(result.access_token, "access token")
        SCAN.secret(result.refresh_token, "access token")
        handed_out = _ISSUED.get()
        if handed_out is not None:
            handed_out |= {result.access_token, result.refresh_token}

    _wrap_method(cloud_tokens.CloudTokens, "issue", issued)
    _wrap_method(cloud_state.TokenStore, "issue", issued)

    from tuyagate.gateway import server

    original_serve = server.serve_app

    @functools.wraps(original_serve)
    async def serve_app(*args: Any, **kwargs: Any) -> Any:
        served = await original_serve(*args, **kwargs)
        SCAN.gateways.add(served.url.split("://", 1)[-1])
        return served

    server.serve_app = serve_app


def _learn_kinds() -> None:
    """Vault entries are named ``local_key/<id>``, ``cloud/secret``...: a kind is the name's first part."""
    for secret, kind in list(SCAN.secrets.items()):
        if kind.startswith("vault entry "):
            SCAN.secrets[secret] = "vault: " + kind.removeprefix("vault entry ").split("/")[0].split(":")[0]


# ----------------------------------------------------------------------------- collecting texts


_ANSWER_HOOK: dict[str, Any] = {}  # the front door's own __call__ and the recording one


def _collect_answers() -> None:
    from tuyagate.gateway.front_door import FrontDoor

    original = _ANSWER_HOOK["original"] = FrontDoor.__call__

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await original(self, scope, receive, send)
            return
        kept = bytearray()
        handed_out: set[str] = set()
        _ISSUED.set(handed_out)

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.body" and len(kept) < MAX_BODY:
                kept.extend(message.get("body", b"")[: MAX_BODY - len(kept)])
            elif message["type"] == "http.response.start":
                kept.extend(b"".join(v for _, v in message.get("headers", ())))
            await send(message)

        try:
            await original(self, scope, receive, recording_send)
        finally:
            text = bytes(kept).decode("utf-8", "replace")
            for token in handed_out:  # the answer that issues a token carries it, by design
                text = text.replace(token, "<issued here>")
            SCAN.text("answer", text)

    FrontDoor.__call__ = _ANSWER_HOOK["recording"] = call  # type: ignore[method-assign]


def _record_answers(on: bool) -> None:
    from tuyagate.gateway.front_door import FrontDoor

    FrontDoor.__call__ = _ANSWER_HOOK["recording" if on else "original"]  # type: ignore[method-assign]


def _collect_capsys() -> None:
    original = pytest.CaptureFixture.readouterr

    def readouterr(self: Any) -> Any:
        result = original(self)
        if SCAN.current not in SCAN.exempt_output:
            for part in (result.out, result.err):
                if isinstance(part, str | bytes):
                    SCAN.text("output", part)
        return result

    pytest.CaptureFixture.readouterr = readouterr  # type: ignore[method-assign]


# At import (tests/conftest.py loads this first), before any test module imports what is wrapped here.
_learn_secrets()
_collect_answers()
_collect_capsys()
logging.getLogger().addHandler(_Collector())
if logging.getLogger("tuyagate").level == logging.NOTSET:
    logging.getLogger("tuyagate").setLevel(logging.DEBUG)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shows_secret(why): the test prints a secret on purpose (not scanned)")
    config.addinivalue_line(
        "markers", "default_logging: run as a user's program: without the scan's DEBUG level and answer recorder"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    SCAN.current = item.nodeid
    if item.get_closest_marker("shows_secret") is not None:
        SCAN.exempt_output.add(item.nodeid)
    logger = logging.getLogger("tuyagate")
    level = logger.level
    as_users = item.get_closest_marker("default_logging") is not None
    if as_users:  # what perf_counts counts against: no DEBUG level, no wrapper around the front door
        logger.setLevel(logging.NOTSET)
        _record_answers(False)
    try:
        return (yield)
    finally:
        logger.setLevel(level)
        if as_users:
            _record_answers(True)
        SCAN.current = "(between tests)"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid in SCAN.exempt_output:
        return
    for title, content in report.sections:
        if title.startswith(("Captured stdout", "Captured stderr")):
            owner, SCAN.current = SCAN.current, report.nodeid
            SCAN.text("output", content)
            SCAN.current = owner


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _learn_kinds()
    findings = SCAN.findings()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{SCAN.summary()}: found {len(findings)}"]
    lines += [f"  a {kind} appears in what {test} produced" for test, kind in findings]
    # A whole run that learnt or collected almost nothing means a hook stopped working: not a pass.
    # Gateway answers are only expected of a run that holds the gateway's tests.
    gateway_tests = sum(1 for item in session.items if item.nodeid.startswith("tests/gateway/"))
    vacuous = session.testscollected >= 500 and (
        len(SCAN.secrets) < 20 or (gateway_tests >= 100 and SCAN.counts["answer"] < 100)
    )
    if vacuous:
        lines.append(
            "  the scan learnt or collected too little for a run this size: a hook of tests/secret_scan.py broke"
        )
    if reporter is not None:
        for line in lines:
            reporter.write_line(line, red=bool(findings) or vacuous)
    if findings or vacuous:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
