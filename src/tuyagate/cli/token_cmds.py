"""``tuyagate tokens {create,list,revoke}``: manage the gateway's API tokens.

A token is printed once, at creation; only its hash is stored. Also runnable on its own as
``python -m tuyagate.cli.token_cmds`` so a token can be made before the CLI wiring exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from tuyagate.errors import TuyaError
from tuyagate.gateway.auth import SCOPES, JsonTokenStore, create_token, revoke_token
from tuyagate.gateway.settings import load_settings

__all__ = ["main", "register"]


def _out(text: str, *, file: TextIO | None = None) -> None:
    (file or sys.stdout).write(text + "\n")


def _store(args: argparse.Namespace) -> JsonTokenStore:
    settings = load_settings(args.config, data_dir=args.data_dir)
    return JsonTokenStore(settings.tokens_file)


def _create(args: argparse.Namespace) -> int:
    record, token = create_token(_store(args), args.name, args.scope)
    if args.json:
        _out(json.dumps({**record.public(), "token": token}))
    else:
        _out(f"created token {record.id} ({record.name}, scope {record.scope}); it is shown only now:")
        _out(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    records = _store(args).list()
    if args.json:
        _out(json.dumps([r.public() for r in records]))
    else:
        for r in records:
            _out(f"{r.id}  {r.scope:<7}  {r.name}")
        if not records:
            _out("no API tokens")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    record = revoke_token(_store(args), args.token)
    _out(f"revoked token {record.id} ({record.name})")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="tuyagate.toml to read the data directory from")
    parser.add_argument("--data-dir", help="directory that holds api-tokens.json (overrides the configuration)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``tokens`` to the top-level parser."""
    tokens = commands.add_parser("tokens", help="manage the gateway's API tokens")
    actions = tokens.add_subparsers(dest="tokens_command", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True, help="a label, e.g. the client that will use it")
    create.add_argument("--scope", choices=SCOPES, default="control", help="read: look only; control: also change")
    _common(create)
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="list tokens (never the tokens themselves)")
    _common(listing)
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by id or name")
    revoke.add_argument("token", help="id or name")
    _common(revoke)
    revoke.set_defaults(func=_revoke)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuyagate.cli.token_cmds")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["tokens", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except TuyaError as exc:
        _out(f"tuyagate: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
