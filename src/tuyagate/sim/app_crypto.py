"""The request protection of the Smart Life app API, from the server's side (the emulator checks it).

What ``tuya-device-sharing-sdk`` does on every call after the QR login (read from its source):

* per request a fresh id ``rid`` (``X-requestId``); ``hash_key = md5_hex(rid + refresh_token)``;
* the AES-128-GCM key is the first 16 characters of ``hmac_sha256_hex(key=rid, msg=hash_key)``
  (with a non-empty ``X-sid``, ``"_" + ...`` derived from it is appended to the message first);
* the query becomes ``?encdata=...`` and the JSON body ``{"encdata": "..."}``, each
  ``base64(nonce) + base64(ciphertext + tag)`` with a 12-byte nonce, no associated data, of the
  compact JSON (``separators=(",", ":")``);
* ``X-sign = hmac_sha256_hex(key=hash_key, "X-appKey=..||X-requestId=..||X-sid=..||X-time=..||X-token=.."
  + query encdata + body encdata)``, headers with an empty value left out;
* the answer's ``result`` is ``base64(nonce + ciphertext + tag)`` under the same key (one base64
  string this time, not two).

The server knows the refresh token from the session the access token (``X-token``) belongs to, or,
for the refresh call, from the path. Both directions are here, so tests can check them against the
SDK's own helpers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "SIGNED_HEADERS",
    "CryptoError",
    "decrypt_part",
    "decrypt_result",
    "encrypt_part",
    "encrypt_result",
    "request_keys",
    "sign",
]

SIGNED_HEADERS = ("X-appKey", "X-requestId", "X-sid", "X-time", "X-token")
NONCE_SIZE = 12
_NONCE_B64 = 16  # base64 of 12 bytes, no padding


class CryptoError(ValueError):
    """An ``encdata`` that is not base64 of nonce and ciphertext, or does not authenticate under the key."""


def request_keys(request_id: str, refresh_token: str, sid: str = "") -> tuple[str, bytes]:
    """``(hash_key, aes_key)`` of one request: the sign's HMAC key and the 16-byte AES-GCM key."""
    hash_key = hashlib.md5((request_id + refresh_token).encode("utf-8")).hexdigest()
    message = hash_key
    if sid:
        picks = [ord(sid[i]) % 16 for i in range(min(len(sid), 16))]
        if max(picks) >= len(sid):
            raise CryptoError("the X-sid is too short for its own key derivation")
        message += "_" + "".join(sid[i] for i in picks)
    secret = hmac.new(request_id.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
    return hash_key, secret.encode("utf-8")


def sign(hash_key: str, headers: Mapping[str, str], query_encdata: str = "", body_encdata: str = "") -> str:
    """``X-sign`` for these headers (looked up by the names in :data:`SIGNED_HEADERS`) and ``encdata`` parts."""
    signed = "||".join(f"{name}={headers[name]}" for name in SIGNED_HEADERS if headers.get(name))
    text = signed + query_encdata + body_encdata
    return hmac.new(hash_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def encrypt_part(data: Any, key: bytes, nonce: bytes) -> str:
    """What a client sends as ``encdata``: compact JSON of ``data``, ``base64(nonce) + base64(ct)``."""
    text = json.dumps(data, separators=(",", ":"))
    sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), None)
    return (base64.b64encode(nonce) + base64.b64encode(sealed)).decode("ascii")


def decrypt_part(encdata: str, key: bytes) -> Any:
    """The JSON value a client sent as ``encdata``; CryptoError when it does not decrypt."""
    try:
        nonce = base64.b64decode(encdata[:_NONCE_B64], validate=True)
        sealed = base64.b64decode(encdata[_NONCE_B64:], validate=True)
        if len(nonce) != NONCE_SIZE:
            raise CryptoError("the encdata nonce is not 12 bytes")
        return json.loads(AESGCM(key).decrypt(nonce, sealed, None))
    except (ValueError, InvalidTag) as exc:  # binascii, JSON and short-nonce errors are ValueErrors
        raise CryptoError(f"the encdata does not decrypt ({type(exc).__name__})") from None


def encrypt_result(data: Any, key: bytes, nonce: bytes) -> str:
    """An answer's ``result``: ``base64(nonce + ct)`` of the compact JSON of ``data``."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, text.encode("utf-8"), None)).decode("ascii")


def decrypt_result(result: str, key: bytes) -> Any:
    """The JSON value of an answer's encrypted ``result`` (what the SDK does with it)."""
    try:
        raw = base64.b64decode(result, validate=True)
        return json.loads(AESGCM(key).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], None))
    except (ValueError, InvalidTag) as exc:
        raise CryptoError(f"the result does not decrypt ({type(exc).__name__})") from None
