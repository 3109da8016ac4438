"""``tuyagate cloud login --app``: log in with the Smart Life / Tuya Smart app, no developer account.

The user code comes from ``--user-code``, else the one the stored app login used (logging in again
is then one scan), else a prompt on a terminal. The QR code goes to stderr (half-block characters,
or ANSI colours where the terminal's encoding lacks them), and ``--qr-file`` writes it as PNG or
SVG too; a progress line counts down to the deadline (``--wait``). Once the app approved, one call
(the account's homes) checks the login, and only then is it stored: endpoint and user name in the
registry, tokens, user code and terminal id in the vault (never printed, never logged).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import TextIO

from tuyagate.cli.context import emit, open_store
from tuyagate.cli.extras import require_extra
from tuyagate.cloud.app_login import check_user_code
from tuyagate.cloud.regions import resolve_base_url
from tuyagate.deadline import Deadline
from tuyagate.devices import paths
from tuyagate.devices.cloud_login import login_kind
from tuyagate.errors import ConfigError

__all__ = ["app_login"]

DEVELOPER_OPTIONS = (("client_id", "--client-id"), ("secret", "--secret"), ("secret_stdin", "--secret-stdin"))
WHERE_IS_THE_CODE = "Smart Life app: Me > Settings > Account and Security > User Code"


def _stored_user_code(args: argparse.Namespace) -> str | None:
    """The user code of the stored app login, if any (read without creating a data directory)."""
    if not paths.db_path(paths.resolve_data_dir(getattr(args, "data_dir", None))).exists():
        return None
    from tuyagate.devices.cloud_app_login import load_app_login

    with open_store(args) as (registry, vault):
        if login_kind(registry) != "app":
            return None
        try:
            stored = load_app_login(registry, vault)
        except ConfigError:
            return None
    return stored.login.user_code if stored is not None else None


def _user_code(args: argparse.Namespace) -> str:
    if args.user_code:
        return check_user_code(args.user_code)
    stored = _stored_user_code(args)
    if stored:
        print("using the user code of the stored app login", file=sys.stderr)
        return stored
    if sys.stdin.isatty():
        print(f"User code ({WHERE_IS_THE_CODE}): ", end="", file=sys.stderr, flush=True)
        return check_user_code(sys.stdin.readline())
    raise ConfigError(f"cloud login --app needs the user code: give --user-code CODE ({WHERE_IS_THE_CODE})")


def show_qr(payload: str, out: TextIO, *, qr_file: str | None = None) -> None:
    """Print the QR code of ``payload``; half blocks where ``out`` can encode them, else ANSI colours."""
    import segno

    qr = segno.make(payload, error="q")
    try:
        "\u2580\u2584\u2588".encode(out.encoding or "ascii")
        compact = True
    except (UnicodeEncodeError, LookupError):
        compact = False
    qr.terminal(out=out, compact=compact)
    if qr_file:
        try:
            qr.save(qr_file, scale=8)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot write the QR code to {qr_file}: {exc}") from None
        print(f"(the QR code is also in {qr_file})", file=out)
    out.flush()


class _Countdown:
    """The waiting line: rewritten in place on a terminal, a line every 30 s otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last_line: float | None = None

    def __call__(self, left: float) -> None:
        text = f"waiting for the approval in the app ... {int(left + 0.5)} s left"
        if self.tty:
            print(f"\r\x1b[K{text}", end="", file=self.out, flush=True)
        elif self.last_line is None or self.last_line - left >= 30:
            print(text, file=self.out, flush=True)
            self.last_line = left

    def done(self) -> None:
        if self.tty:
            print("\r\x1b[K", end="", file=self.out, flush=True)


async def app_login(args: argparse.Namespace) -> int:
    """The command: QR login, check, store; one summary line (or JSON) on stdout."""
    require_extra("app", "tuyagate cloud login --app")
    given = [flag for attr, flag in DEVELOPER_OPTIONS if getattr(args, attr, None)]
    if given or getattr(args, "region", None):
        raise ConfigError(
            "--app logs in with the Smart Life app; "
            + ", ".join([*given, *(["--region"] if getattr(args, "region", None) else [])])
            + " are for a developer project"
        )
    if args.wait <= 0:
        raise ConfigError("--wait must be a positive number of seconds")
    base_url = resolve_base_url(None, args.base_url) if args.base_url else None
    ca_bundle = _ca_bundle(args.ca_bundle)
    user_code = _user_code(args)

    from tuyagate.cloud.app_client import AppCloudClient
    from tuyagate.cloud.app_login import AppLoginFlow
    from tuyagate.devices.cloud_app_login import save_app_login

    flow = AppLoginFlow(user_code, base_url=base_url, ca_bundle=ca_bundle, timeout=args.timeout)
    countdown = _Countdown(sys.stderr)
    try:
        challenge = await flow.start(deadline=Deadline.after(args.timeout))
        print(
            "Scan this QR code with the Smart Life or Tuya Smart app (the scan icon at the top of the Home tab) "
            "and confirm the login:",
            file=sys.stderr,
        )
        show_qr(challenge.payload, sys.stderr, qr_file=args.qr_file)
        try:
            login = await flow.wait(challenge, Deadline.after(args.wait), progress=countdown)
        finally:
            countdown.done()
    finally:
        flow.close()
    async with AppCloudClient(login, ca_bundle=ca_bundle, timeout=args.timeout) as client:
        homes = await client.homes()  # the login works: only now is it stored
        login = replace(login, token=client.token)  # the check may have refreshed it
    with open_store(args) as (registry, vault):
        replaced = login_kind(registry)
        save_app_login(registry, vault, login, login_url=base_url, ca_bundle=ca_bundle)
        where = str(registry.db.path)
    if args.json:
        info = {"logged_in": True, "kind": "app", "username": login.username, "endpoint": login.endpoint}
        emit(json.dumps({**info, "homes": len(homes), "replaced": replaced}))
        return 0
    who = f" as {login.username}" if login.username else ""
    note = " (it replaces the stored developer project login)" if replaced == "developer" else ""
    emit(
        f"logged in with the Smart Life app{who} ({len(homes)} home(s), endpoint {login.endpoint}); "
        f"the login is stored in {where}{note}; `tuyagate cloud sync` uses it"
    )
    return 0


def _ca_bundle(value: str | None) -> str | None:
    if not value:
        return None
    from pathlib import Path

    bundle = Path(value).expanduser().resolve()
    if not bundle.is_file():
        raise ConfigError(f"the CA bundle {value} is not a file")
    return str(bundle)  # stored: later commands may run from another directory
