"""Coverage-guided fuzzing of the LAN frame decoder (3.1, 3.3, 3.4, 3.5) and the UDP discovery decoder.

The promise (DESIGN.md, Testing): whatever bytes a peer sends, the decoder gives messages or raises
ProtocolError (IntegrityError and, during a handshake, KeyMismatchError included), and never holds
more than one frame's worth of bytes. Anything else is a failure: it is printed with its traceback
and the input is saved as ``fuzz-failure-<sha1>.bin`` in the output directory.

Each input picks a target from its first bytes:

- a byte stream fed to a client or device codec of one version, cut into chunks where the input says;
- the same bytes sent as the *body* of a correctly framed and encrypted message (the fuzzer cannot forge
  CRCs, HMACs or GCM tags, so this reaches the decryption, header and JSON paths behind them);
- a UDP datagram.

With atheris installed (the dev extra, on Linux x86_64) the search is guided by coverage of
``tuyagate.protocol``; without it the same targets run under Hypothesis.

Run: ``.venv/bin/python -m benchmarks.fuzz_frames --seconds 60`` (prints inputs tried and failures;
exits 1 when there was a failure). ``--seed N`` repeats an atheris run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import atheris
except ImportError:  # not on this platform: Hypothesis drives the same targets
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["tuyagate.protocol"]):
        from tuyagate.errors import KeyMismatchError, ProtocolError
        from tuyagate.protocol.codec import MessageCodec, Role
        from tuyagate.protocol.commands import Command
        from tuyagate.protocol.discovery import decode_datagram
        from tuyagate.protocol.handshake import ClientHandshake
        from tuyagate.protocol.versions import get_spec
else:
    from tuyagate.errors import KeyMismatchError, ProtocolError
    from tuyagate.protocol.codec import MessageCodec, Role
    from tuyagate.protocol.commands import Command
    from tuyagate.protocol.discovery import decode_datagram
    from tuyagate.protocol.handshake import ClientHandshake
    from tuyagate.protocol.versions import get_spec

KEY = b"0123456789abcdef"
IV = b"0123456789ab"
VERSIONS = ("3.1", "3.3", "3.4", "3.5")
MAX_FRAME = 4096
SLACK = 4  # a partial prefix beyond max_frame


class Run:
    """Counts inputs and failures, stops at the deadline, saves failing inputs."""

    def __init__(self, seconds: float, out: Path) -> None:
        self.deadline = time.monotonic() + seconds
        self.started = time.monotonic()
        self.out = out
        self.inputs = 0
        self.failures = 0

    def fail(self, data: bytes) -> None:
        self.failures += 1
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"fuzz-failure-{hashlib.sha1(data).hexdigest()}.bin"
        path.write_bytes(data)
        print(f"FAILURE on {len(data)} bytes (saved to {path}):", file=sys.stderr)
        traceback.print_exc()

    def summary(self) -> str:
        elapsed = time.monotonic() - self.started
        engine = "atheris (coverage-guided)" if atheris is not None else "hypothesis (atheris not installed)"
        return (
            f"fuzz_frames: {engine}, {elapsed:.1f} s, inputs tried: {self.inputs}, "
            f"failures: {self.failures}, versions: {', '.join(VERSIONS)} + UDP"
        )


def _codec(version: str, role: Role, handshaking: bool) -> MessageCodec:
    codec = MessageCodec(get_spec(version), KEY, role=role, max_frame=MAX_FRAME)
    if handshaking and role is Role.CLIENT and get_spec(version).session_key:
        ClientHandshake(codec, b"c" * 16).start(seq=1, iv=IV)
    return codec


def _feed(codec: MessageCodec, chunks: list[bytes]) -> None:
    for chunk in chunks:
        pending = chunk
        for _ in range(len(chunk) + 2 * MAX_FRAME):  # each error consumes bytes: this bounds the loop
            try:
                codec.feed(pending)
            except KeyMismatchError:
                if not codec.handshaking:
                    raise AssertionError("KeyMismatchError outside a handshake") from None
            except ProtocolError:
                pass
            else:
                if codec.buffered > MAX_FRAME + SLACK:
                    raise AssertionError(f"the codec holds {codec.buffered} bytes")
                break
            pending = b""
        else:
            raise AssertionError("the codec kept raising without consuming its buffer")


def one_input(data: bytes) -> None:
    """The target: raises AssertionError or an unexpected exception on a failure."""
    if len(data) < 3:
        return
    selector, cut, rest = data[0], data[1], data[2:]
    version = VERSIONS[selector % len(VERSIONS)]
    role = Role.CLIENT if selector & 0x10 else Role.DEVICE
    mode = (selector >> 5) % 4
    if mode == 3:
        try:
            decode_datagram(rest)
        except ProtocolError:
            pass
        return
    if mode == 2:  # the bytes as the body of a valid frame from the other side
        other = Role.DEVICE if role is Role.CLIENT else Role.CLIENT
        sender = MessageCodec(get_spec(version), KEY, role=other, max_frame=MAX_FRAME)
        rest = sender.encode(Command.STATUS if other is Role.DEVICE else Command.CONTROL, rest, seq=1, iv=IV)
    step = max(1, cut)
    chunks = [rest[i : i + step] for i in range(0, len(rest), step)] or [b""]
    _feed(_codec(version, role, handshaking=mode == 1), chunks)


def guarded(run: Run, target: Callable[[bytes], None]) -> Callable[[bytes], None]:
    def test_one(data: bytes) -> None:
        if time.monotonic() >= run.deadline:
            print(run.summary())
            sys.stdout.flush()
            os._exit(1 if run.failures else 0)  # libFuzzer's loop never returns on its own
        run.inputs += 1
        try:
            target(data)
        except Exception:  # noqa: BLE001 -- every exception that reaches here is a finding
            run.fail(data)

    return test_one


def seeds() -> list[bytes]:
    """Valid frames of every version and role, prefixed with selectors that feed them to the right codec."""
    seeds: list[bytes] = []
    for i, version in enumerate(VERSIONS):
        for role, flag in ((Role.DEVICE, 0x10), (Role.CLIENT, 0x00)):
            codec = MessageCodec(get_spec(version), KEY, role=role, max_frame=MAX_FRAME)
            frame = codec.encode(Command.STATUS, {"dps": {"1": True, "2": 50}, "t": 1}, seq=3, iv=IV)
            seeds.append(bytes([i | flag, 7]) + frame)
            seeds.append(bytes([i | flag | 0x40, 200]) + b'{"dps":{"1":true},"t":5}')
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="the random seed (default: a new one)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"), help="where failing inputs are saved")
    args = parser.parse_args(argv)
    run = Run(args.seconds, args.out)
    target = guarded(run, one_input)
    for seed in seeds():
        target(seed)
    if atheris is not None:
        corpus = args.out / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        for seed in seeds():
            (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        flags = [sys.argv[0], f"-max_len={MAX_FRAME}"]
        if args.seed is not None:
            flags.append(f"-seed={args.seed}")
        atheris.Setup([*flags, str(corpus)], target)
        atheris.Fuzz()
        return 0  # not reached: the target ends the process at the deadline
    return _hypothesis_run(target)


def _hypothesis_run(target: Callable[[bytes], None]) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    valid = seeds()
    inputs = st.binary(max_size=MAX_FRAME) | st.builds(
        lambda s, i, b: s[:i] + b + s[i:], st.sampled_from(valid), st.integers(0, 200), st.binary(max_size=32)
    )
    # Far more examples than the budget allows: the target ends the process at the deadline.
    run_all: Any = settings(max_examples=10**9, deadline=None, database=None, suppress_health_check=list(HealthCheck))(
        given(inputs)(lambda data: target(data))
    )
    run_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
