"""The 3.4/3.5 session-key negotiation, as two small state machines (client and device).

Three messages: the client sends its 16-byte nonce (START); the device answers with its own
nonce and HMAC(local_key, client_nonce) (RESP); the client proves it knows the key with
HMAC(local_key, device_nonce) (FINISH). Both then derive the same session key from the two
nonces. Nonces are passed in (the caller draws them from ``os.urandom``), so tests can
reproduce the reference vectors byte for byte. A proof that does not match is a
:class:`~tuyagate.errors.KeyMismatchError` naming the likely cause.
"""

from __future__ import annotations

from enum import Enum

from tuyagate.errors import HandshakeError, KeyMismatchError, ProtocolError
from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.crypto import GcmCipher, ecb_encrypt, hmac_sha256
from tuyagate.protocol.versions import Encryption, VersionSpec

__all__ = ["ClientHandshake", "DeviceHandshake", "HandshakeState", "derive_session_key"]

NONCE_LEN = 16
_WRONG_KEY = "the device answered the handshake with a bad HMAC: the local key is wrong or was changed by re-pairing"


class HandshakeState(Enum):
    """Where a negotiation stands."""

    IDLE = "idle"
    WAIT_RESPONSE = "wait_response"  # client: START sent
    WAIT_FINISH = "wait_finish"  # device: RESP sent
    DONE = "done"
    FAILED = "failed"


def derive_session_key(spec: VersionSpec, local_key: bytes, client_nonce: bytes, device_nonce: bytes) -> bytes:
    """The session key both sides derive from the two nonces."""
    mixed = bytes(a ^ b for a, b in zip(client_nonce, device_nonce, strict=True))
    if spec.encryption is Encryption.ECB_SESSION:
        return ecb_encrypt(local_key, mixed, pad=False)
    if spec.encryption is Encryption.GCM_SESSION:
        # Not the cached cipher: the local key's GCM contexts are needed only here, once a connect.
        return GcmCipher(local_key).encrypt(client_nonce[:12], mixed, None)[:16]
    raise ProtocolError(f"protocol {spec.name} has no session key")


def _check_nonce(nonce: bytes, who: str) -> None:
    if len(nonce) != NONCE_LEN:
        raise ProtocolError(f"the {who} nonce must be {NONCE_LEN} bytes, got {len(nonce)}")


class ClientHandshake:
    """The client side: ``start()``, then ``receive(resp)`` gives the FINISH frame."""

    def __init__(self, codec: MessageCodec, client_nonce: bytes) -> None:
        if codec.role is not Role.CLIENT or not codec.spec.session_key:
            raise ProtocolError("ClientHandshake needs a client codec of a version with a session key")
        _check_nonce(client_nonce, "client")
        self.codec = codec
        self.client_nonce = client_nonce
        self.state = HandshakeState.IDLE
        self.session_key: bytes | None = None

    def start(self, *, seq: int, iv: bytes | None = None) -> bytes:
        """The START frame. Until the answer, integrity failures are reported as a wrong key."""
        self.codec.reset()
        self.codec.handshaking = True
        self.state = HandshakeState.WAIT_RESPONSE
        return self.codec.encode(Command.SESS_KEY_NEG_START, self.client_nonce, seq=seq, iv=iv)

    def receive(self, msg: Message, *, seq: int, iv: bytes | None = None) -> bytes:
        """Check the device's RESP and return the FINISH frame; the codec then uses the session key."""
        if self.state is not HandshakeState.WAIT_RESPONSE:
            raise HandshakeError(f"unexpected handshake message in state {self.state.value}")
        if msg.cmd != Command.SESS_KEY_NEG_RESP:
            self.state = HandshakeState.FAILED
            raise HandshakeError(f"the device answered the handshake with command {msg.cmd:#x} instead of {0x04:#x}")
        body = msg.payload
        if len(body) < NONCE_LEN + 32:
            self.state = HandshakeState.FAILED
            raise HandshakeError(f"the handshake answer is {len(body)} bytes, expected at least 48")
        device_nonce, proof = body[:NONCE_LEN], body[NONCE_LEN : NONCE_LEN + 32]
        local_key = self.codec.local_key
        if proof != hmac_sha256(local_key, self.client_nonce):
            self.state = HandshakeState.FAILED
            raise KeyMismatchError(_WRONG_KEY)
        finish = self.codec.encode(Command.SESS_KEY_NEG_FINISH, hmac_sha256(local_key, device_nonce), seq=seq, iv=iv)
        self.session_key = derive_session_key(self.codec.spec, local_key, self.client_nonce, device_nonce)
        self.codec.set_session_key(self.session_key)
        self.state = HandshakeState.DONE
        return finish


class DeviceHandshake:
    """The device side: ``receive(start)`` gives the RESP frame, ``receive(finish)`` completes."""

    def __init__(self, codec: MessageCodec, device_nonce: bytes) -> None:
        if codec.role is not Role.DEVICE or not codec.spec.session_key:
            raise ProtocolError("DeviceHandshake needs a device codec of a version with a session key")
        _check_nonce(device_nonce, "device")
        self.codec = codec
        self.device_nonce = device_nonce
        self.client_nonce: bytes | None = None
        self.state = HandshakeState.IDLE
        self.session_key: bytes | None = None

    def receive(self, msg: Message, *, seq: int, iv: bytes | None = None) -> bytes | None:
        """Handle START (returns RESP) or FINISH (returns None; the codec switches keys)."""
        local_key = self.codec.local_key
        if msg.cmd == Command.SESS_KEY_NEG_START:
            if len(msg.payload) < NONCE_LEN:
                self.state = HandshakeState.FAILED
                raise HandshakeError("the client's handshake nonce is shorter than 16 bytes")
            self.codec.key = local_key  # a client may restart the negotiation
            self.client_nonce = msg.payload[:NONCE_LEN]
            proof = hmac_sha256(local_key, self.client_nonce)
            self.state = HandshakeState.WAIT_FINISH
            return self.codec.encode(Command.SESS_KEY_NEG_RESP, self.device_nonce + proof, seq=seq, iv=iv)
        if msg.cmd == Command.SESS_KEY_NEG_FINISH and self.state is HandshakeState.WAIT_FINISH:
            assert self.client_nonce is not None
            if msg.payload[:32] != hmac_sha256(local_key, self.device_nonce):
                self.state = HandshakeState.FAILED
                raise KeyMismatchError("the client finished the handshake with a bad HMAC: it uses another key")
            self.session_key = derive_session_key(self.codec.spec, local_key, self.client_nonce, self.device_nonce)
            self.codec.set_session_key(self.session_key)
            self.state = HandshakeState.DONE
            return None
        raise HandshakeError(f"command {msg.cmd:#x} is not allowed before the handshake completes")
