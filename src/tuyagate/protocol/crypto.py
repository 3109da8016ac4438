"""The crypto primitives of the LAN protocol, on top of ``cryptography``.

AES-128-ECB with strict PKCS7 (tinytuya only checks that the last byte is 1..16; we check
every padding byte, so a wrong key is reported as such instead of yielding garbage), AES-GCM
with a 12-byte IV and 16-byte tag, HMAC-SHA256 and CRC32. Cipher objects are cached per key
because building them costs more than encrypting a small Tuya payload: a fresh ECB context costs
about 20 times the encryption of a 64-byte payload. :class:`EcbCipher` goes one step further and
keeps one encryptor and one decryptor open for the lifetime of a key; it is never shared between
threads: a connection's session key has its own, and a device's local key has one per thread
(:func:`ecb_cipher`), shared by that thread's connections to the device, one after another. The
module-level functions build a fresh context per call and are safe anywhere.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tuyagate.errors import ConfigError, IntegrityError, ProtocolError

__all__ = [
    "UDP_KEY",
    "EcbCipher",
    "GcmCipher",
    "HmacSha256",
    "crc32",
    "ecb_cipher",
    "ecb_decrypt",
    "ecb_encrypt",
    "gcm_cipher",
    "gcm_decrypt",
    "gcm_encrypt",
    "hmac_sha256",
    "md5_hex",
]

# The well-known key that encrypts UDP discovery broadcasts: md5(b"yGAdlopoPVldABfn").
UDP_KEY = hashlib.md5(b"yGAdlopoPVldABfn").digest()
_BLOCK = 16


def _check_key(key: bytes) -> None:
    if len(key) != 16:
        raise ConfigError(f"a Tuya key must be exactly 16 bytes, got {len(key)}")


@lru_cache(maxsize=4096)
def _ecb(key: bytes) -> Cipher[modes.ECB]:
    _check_key(key)
    return Cipher(algorithms.AES(key), modes.ECB())


class GcmCipher:
    """AES-GCM with one key (12-byte IV, 16-byte tag appended); a bad tag is an IntegrityError.

    A 3.5 connection keeps one for its session key, so the OpenSSL contexts (about 2.7 KB) live
    exactly as long as the session does; one-off frames (discovery) use the cached ones behind
    :func:`gcm_encrypt` and :func:`gcm_decrypt`.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._aead = AESGCM(key)

    def encrypt(self, iv: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
        """Ciphertext followed by the 16-byte tag."""
        if len(iv) != 12:
            raise ProtocolError(f"AES-GCM needs a 12-byte IV, got {len(iv)}")
        return self._aead.encrypt(iv, plaintext, aad)

    def decrypt(self, iv: bytes, ciphertext_and_tag: bytes, aad: bytes | None) -> bytes:
        """Verify and decrypt."""
        if len(iv) != 12 or len(ciphertext_and_tag) < 16:
            raise ProtocolError("AES-GCM input too short for its IV and tag")
        try:
            return self._aead.decrypt(iv, ciphertext_and_tag, aad)
        except InvalidTag:
            raise IntegrityError("AES-GCM tag mismatch: the key is wrong or the frame is corrupt") from None


@lru_cache(maxsize=4096)
def gcm_cipher(key: bytes) -> GcmCipher:
    """The shared GcmCipher of a well-known or long-lived key (cached; not for session keys)."""
    return GcmCipher(key)


def ecb_encrypt(key: bytes, data: bytes, *, pad: bool = True) -> bytes:
    """AES-128-ECB; PKCS7-padded unless ``pad`` is False (then ``data`` must be block-aligned)."""
    if pad:
        n = _BLOCK - len(data) % _BLOCK
        data += bytes((n,)) * n
    elif len(data) % _BLOCK:
        raise ProtocolError(f"ECB input of {len(data)} bytes is not a multiple of 16")
    enc = _ecb(key).encryptor()
    return enc.update(data) + enc.finalize()


def ecb_decrypt(key: bytes, data: bytes, *, unpad: bool = True) -> bytes:
    """AES-128-ECB decrypt with strict PKCS7: any malformed padding is an IntegrityError."""
    if not data or len(data) % _BLOCK:
        raise ProtocolError(f"ciphertext of {len(data)} bytes is not a non-empty multiple of 16")
    dec = _ecb(key).decryptor()
    plain = dec.update(data) + dec.finalize()
    if not unpad:
        return plain
    n = plain[-1]
    if not 1 <= n <= _BLOCK or plain[-n:] != bytes((n,)) * n:
        raise IntegrityError("bad padding after AES-ECB decryption: the key is wrong or the data is corrupt")
    return plain[:-n]


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
    """AES-GCM; returns ciphertext followed by the 16-byte tag."""
    return gcm_cipher(key).encrypt(iv, plaintext, aad)


def gcm_decrypt(key: bytes, iv: bytes, ciphertext_and_tag: bytes, aad: bytes | None) -> bytes:
    """AES-GCM decrypt and verify; a bad tag is an IntegrityError."""
    return gcm_cipher(key).decrypt(iv, ciphertext_and_tag, aad)


class EcbCipher:
    """AES-128-ECB with one key, reusing one encryptor and one decryptor context.

    ECB has no chaining state, so a context can be fed block-aligned data forever without
    ``finalize()``: every ``update()`` returns exactly its input's length. Inputs are padded or
    checked to be block-aligned *before* they reach a context, so no partial block is ever left
    inside one to corrupt the next message, and each call leaves the contexts as it found them: so
    one instance may serve any number of connections of one thread. Not thread-safe.
    """

    __slots__ = ("_dec", "_enc")

    def __init__(self, key: bytes) -> None:
        # Not from the cache of _ecb: a connection's session key is used by that connection only,
        # and a cached Cipher would outlive it (the cache holds thousands).
        _check_key(key)
        cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._enc = cipher.encryptor()
        self._dec = cipher.decryptor()

    def encrypt(self, data: bytes) -> bytes:
        """PKCS7-pad and encrypt."""
        n = _BLOCK - len(data) % _BLOCK
        return self._enc.update(data + _PADS[n])

    def decrypt(self, data: bytes) -> bytes:
        """Decrypt and strip strict PKCS7 padding (malformed padding is an IntegrityError)."""
        if not data or len(data) % _BLOCK:
            raise ProtocolError(f"ciphertext of {len(data)} bytes is not a non-empty multiple of 16")
        plain = self._dec.update(data)
        n = plain[-1]
        if not 1 <= n <= _BLOCK or not plain.endswith(_PADS[n]):
            raise IntegrityError("bad padding after AES-ECB decryption: the key is wrong or the data is corrupt")
        return plain[:-n]


_PADS = [bytes((n,)) * n for n in range(_BLOCK + 1)]


class _LocalKeyCiphers(threading.local):
    """The :class:`EcbCipher` of each recently used local key, per thread (see :func:`ecb_cipher`)."""

    def __init__(self) -> None:
        self.by_key: dict[bytes, EcbCipher] = {}


_LOCAL_KEY_CIPHERS = _LocalKeyCiphers()
LOCAL_KEY_CIPHERS = 512  # keys kept per thread: ~1.8 KB of OpenSSL contexts each


def ecb_cipher(key: bytes) -> EcbCipher:
    """The EcbCipher of a device's local key (3.1-3.3 encrypt every frame with it), one per key and thread.

    Opening its two OpenSSL contexts costs about 15 us, as much as the rest of building a
    connection; a one-shot command (connect, set, close) paid it every time. Connections to the
    same device share it, so persistent connections hold no more than before (one per device).
    At most :data:`LOCAL_KEY_CIPHERS` are kept per thread, the oldest dropped first (a connection
    that holds one keeps it). Not for session keys, which die with their session.
    """
    ciphers = _LOCAL_KEY_CIPHERS.by_key
    ecb = ciphers.get(key)
    if ecb is None:
        _check_key(key)
        while len(ciphers) >= LOCAL_KEY_CIPHERS:
            del ciphers[next(iter(ciphers))]
        ecb = ciphers[key] = EcbCipher(key)
    return ecb


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class HmacSha256:
    """HMAC-SHA256 with one key, its inner and outer pads hashed once (RFC 2104): a message then
    costs two copies of a prepared SHA-256 state instead of a new HMAC object.

    A 3.4 connection keeps one for its session key, so the prepared states live exactly as long as
    the session does (cached by key, every reconnect left one behind, with the dead session's key);
    :func:`hmac_sha256` uses cached ones for long-lived keys (the local key's handshake proofs).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\x00")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return bytes(outer.digest())


@lru_cache(maxsize=4096)
def _hmac(key: bytes) -> HmacSha256:
    return HmacSha256(key)


def hmac_sha256(key: bytes | HmacSha256, data: bytes) -> bytes:
    """HMAC-SHA256 (the 3.4 frame trailer and the handshake proofs); ``key`` is the key, or the
    :class:`HmacSha256` a connection keeps for it."""
    return (key if type(key) is HmacSha256 else _hmac(key)).digest(data)


def crc32(data: bytes) -> int:
    """CRC32 as the 55AA trailer uses it."""
    return zlib.crc32(data) & 0xFFFFFFFF


def md5_hex(data: bytes) -> str:
    """MD5 hex digest (the 3.1 CONTROL tag and UDP key derivation); not used for security here."""
    return hashlib.md5(data).hexdigest()
