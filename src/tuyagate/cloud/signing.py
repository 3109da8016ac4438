"""Tuya OpenAPI request signing, as pure functions.

No I/O and no clock read: the timestamp ``t`` and the ``nonce`` are always passed in, so the
same functions sign outgoing requests (the client), verify incoming ones (the cloud emulator,
the gateway's Tuya-compatible API) and reproduce Tuya's published vectors.

Current scheme (projects created after 2021-06-30)::

    stringToSign = METHOD + "\\n" + sha256_hex(body) + "\\n" + signed_headers + "\\n" + URL
    str  = client_id + [access_token] + t + nonce + stringToSign
    sign = HMAC-SHA256(str, secret).hexdigest().upper()

``signed_headers`` is ``name:value\\n`` for each header listed in ``Signature-Headers``; ``URL`` is
the path plus ``?k=v&...`` with the keys sorted and the values *not* URL-encoded. The token
APIs (``/v1.0/token...``) leave ``access_token`` out. The old scheme signs only
``client_id + [access_token] + t``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "EMPTY_BODY_SHA256",
    "SIGN_METHOD",
    "TOKEN_PATH_PREFIX",
    "QueryLike",
    "SignScheme",
    "canonical_url",
    "compute_sign",
    "content_sha256",
    "hmac_sha256_upper",
    "is_token_path",
    "sign_headers",
    "sign_input",
    "signed_header_pairs",
    "split_path",
    "string_to_sign",
    "verify_sign",
]

SIGN_METHOD = "HMAC-SHA256"
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TOKEN_PATH_PREFIX = "/v1.0/token"

# A query as a mapping ({"page_no": 1}) or as ordered pairs ([("k", "v"), ...]; keys may repeat).
QueryLike = Mapping[str, Any] | Sequence[tuple[str, Any]]


class SignScheme(StrEnum):
    """Which signature algorithm a request uses."""

    CURRENT = "current"  # HMAC over client_id + [token] + t + nonce + stringToSign
    OLD = "old"  # HMAC over client_id + [token] + t ("Sign Requests (Old Version)")


def content_sha256(body: bytes | str | None) -> str:
    """Lowercase hex SHA-256 of the exact body bytes (the empty body hashes to EMPTY_BODY_SHA256)."""
    if not body:
        return EMPTY_BODY_SHA256
    data = body.encode("utf-8") if isinstance(body, str) else body
    return hashlib.sha256(data).hexdigest()


def _query_pairs(query: QueryLike | None) -> list[tuple[str, str]]:
    if not query:
        return []
    items: Iterable[tuple[str, Any]] = query.items() if isinstance(query, Mapping) else query
    return [(str(k), _text(v)) for k, v in items]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def split_path(path: str) -> tuple[str, list[tuple[str, str]]]:
    """Split ``/p?a=1&b=x%2Cy`` into the path and its decoded query pairs (in their order)."""
    base, sep, raw = path.partition("?")
    return base, (parse_qsl(raw, keep_blank_values=True) if sep else [])


def canonical_url(path: str, query: QueryLike | None = None) -> str:
    """The URL part of stringToSign: the path, then the query sorted by key, values un-encoded.

    ``path`` may itself carry a query string (it is decoded and merged with ``query``).
    The sort is stable, so repeated keys keep their relative order.
    """
    base, pairs = split_path(path)
    pairs = pairs + _query_pairs(query)
    if not pairs:
        return base
    pairs.sort(key=lambda kv: kv[0])
    return base + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def string_to_sign(
    method: str,
    path: str,
    query: QueryLike | None = None,
    body: bytes | str | None = b"",
    signed_headers: Iterable[tuple[str, str]] = (),
) -> str:
    """The current scheme's stringToSign (method, body hash, signed headers, URL)."""
    header_part = "".join(f"{name}:{value}\n" for name, value in signed_headers)
    return f"{method.upper()}\n{content_sha256(body)}\n{header_part}\n{canonical_url(path, query)}"


def is_token_path(path: str) -> bool:
    """True for the token APIs (get and refresh), which are signed without an access token."""
    base = path.partition("?")[0]
    return base == TOKEN_PATH_PREFIX or base.startswith(TOKEN_PATH_PREFIX + "/")


def sign_input(
    *,
    client_id: str,
    t: str | int,
    access_token: str = "",
    nonce: str = "",
    method: str = "GET",
    path: str = "/",
    query: QueryLike | None = None,
    body: bytes | str | None = b"",
    signed_headers: Iterable[tuple[str, str]] = (),
    scheme: SignScheme = SignScheme.CURRENT,
) -> str:
    """The string that is HMAC'd (Tuya's ``str``); pass ``access_token=""`` for the token APIs."""
    prefix = f"{client_id}{access_token}{t}"
    if scheme is SignScheme.OLD:
        return prefix
    return prefix + nonce + string_to_sign(method, path, query, body, signed_headers)


def hmac_sha256_upper(secret: str, message: str) -> str:
    """Uppercase hex HMAC-SHA256 of ``message`` keyed with ``secret``."""
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def compute_sign(
    *,
    client_id: str,
    secret: str,
    t: str | int,
    access_token: str = "",
    nonce: str = "",
    method: str = "GET",
    path: str = "/",
    query: QueryLike | None = None,
    body: bytes | str | None = b"",
    signed_headers: Iterable[tuple[str, str]] = (),
    scheme: SignScheme = SignScheme.CURRENT,
) -> str:
    """The expected ``sign`` header of a request."""
    message = sign_input(
        client_id=client_id,
        t=t,
        access_token=access_token,
        nonce=nonce,
        method=method,
        path=path,
        query=query,
        body=body,
        signed_headers=signed_headers,
        scheme=scheme,
    )
    return hmac_sha256_upper(secret, message)


def verify_sign(
    received: str,
    *,
    client_id: str,
    secret: str,
    t: str | int,
    access_token: str = "",
    nonce: str = "",
    method: str = "GET",
    path: str = "/",
    query: QueryLike | None = None,
    body: bytes | str | None = b"",
    signed_headers: Iterable[tuple[str, str]] = (),
    schemes: Iterable[SignScheme] = (SignScheme.CURRENT,),
) -> SignScheme | None:
    """The scheme under which ``received`` is a valid sign, or None (constant-time compares).

    ``received`` is compared case-insensitively: the docs say uppercase, the check is lenient.
    """
    headers = list(signed_headers)
    got = received.strip().upper().encode("ascii", "replace")
    for scheme in schemes:
        want = compute_sign(
            client_id=client_id,
            secret=secret,
            t=t,
            access_token=access_token,
            nonce=nonce,
            method=method,
            path=path,
            query=query,
            body=body,
            signed_headers=headers,
            scheme=scheme,
        )
        if hmac.compare_digest(want.encode("ascii"), got):
            return scheme
    return None


def signed_header_pairs(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The (name, value) pairs an incoming request signed, from its ``Signature-Headers`` header.

    Names keep the spelling of the ``Signature-Headers`` list; values are looked up without
    regard to case. Listed headers that are absent are skipped (as tinytuya does when signing).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    listed = lowered.get("signature-headers", "")
    pairs = []
    for name in listed.split(":"):
        name = name.strip()
        if name and name.lower() in lowered:
            pairs.append((name, lowered[name.lower()]))
    return pairs


def sign_headers(
    *,
    client_id: str,
    secret: str,
    t: str | int,
    access_token: str = "",
    nonce: str = "",
    method: str = "GET",
    path: str = "/",
    query: QueryLike | None = None,
    body: bytes | str | None = b"",
    extra_signed: Mapping[str, str] | None = None,
    scheme: SignScheme = SignScheme.CURRENT,
) -> dict[str, str]:
    """The full set of auth headers for a request (``client_id``, ``t``, ``sign``, ...).

    ``extra_signed`` headers are sent, listed in ``Signature-Headers`` and signed (current scheme).
    ``access_token`` is sent when not empty; leave it empty for the token APIs.
    """
    signed = dict(extra_signed or {})
    headers = {"client_id": client_id, "t": str(t), "sign_method": SIGN_METHOD}
    if access_token:
        headers["access_token"] = access_token
    if scheme is SignScheme.CURRENT:
        if nonce:
            headers["nonce"] = nonce
        if signed:
            headers.update(signed)
            headers["Signature-Headers"] = ":".join(signed)
    headers["sign"] = compute_sign(
        client_id=client_id,
        secret=secret,
        t=t,
        access_token=access_token,
        nonce=nonce if scheme is SignScheme.CURRENT else "",
        method=method,
        path=path,
        query=query,
        body=body,
        signed_headers=signed.items(),
        scheme=scheme,
    )
    return headers
