"""Request authentication of the cloud emulator, as the real OpenAPI does it.

Checks, in order: the client id (1005), the timestamp window (1013), the signature under the
current scheme or, when allowed, the old one (1004), then the access token (1002 / 1010) for
everything but the token APIs. The signature is recomputed with
:mod:`tuyagate.cloud.signing`, the same code the client signs with, fed from what arrived on
the wire: the decoded path, the decoded query pairs (sorted there), the raw body bytes and
the headers named in ``Signature-Headers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from tuyagate.cloud.signing import SignScheme, is_token_path, signed_header_pairs, verify_sign
from tuyagate.sim.cloud_state import ApiError, CloudState

__all__ = ["Caller", "authenticate"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called, once authenticated."""

    scheme: SignScheme
    access_token: str  # "" on the token APIs


def authenticate(
    state: CloudState, *, method: str, path: str, raw_query: str, headers: Mapping[str, str], body: bytes
) -> Caller:
    """Return the caller or raise ApiError with the code the real cloud uses."""
    config = state.config
    client_id = headers.get("client_id", "")
    if not client_id or client_id != config.client_id:
        raise ApiError(1005, "clientId invalid")
    t = headers.get("t", "")
    if not t.isdigit() or abs(state.now_ms() - int(t)) > config.t_window * 1000:
        raise ApiError(1013, "request time is invalid")
    token_api = is_token_path(path)
    access_token = "" if token_api else headers.get("access_token", "")
    schemes = (SignScheme.CURRENT, SignScheme.OLD) if config.allow_old_sign else (SignScheme.CURRENT,)
    scheme = verify_sign(
        headers.get("sign", ""),
        client_id=client_id,
        secret=config.secret,
        t=t,
        access_token=access_token,
        nonce=headers.get("nonce", ""),
        method=method,
        path=path,
        query=parse_qsl(raw_query, keep_blank_values=True),
        body=body,
        signed_headers=signed_header_pairs(headers),
        schemes=schemes,
    )
    if scheme is None:
        state.stats["sign_invalid"] += 1
        raise ApiError(1004, "sign invalid")
    if not token_api:
        if not access_token:
            raise ApiError(1002, "access_token is null")
        if not state.tokens.valid(access_token, state.now()):
            state.stats["token_invalid"] += 1
            raise ApiError(1010, "token invalid")
    state.stats[f"sign_{scheme.value}"] += 1
    return Caller(scheme=scheme, access_token=access_token)
