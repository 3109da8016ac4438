"""The version table is the one source of what differs per version, with one spelling of device22.

- The payload builders and discovery take their commands and their protection from the table.
- A label (what a detected connection reports) is what :func:`get_spec` and the CLI read back.
- Nothing in ``src/`` outside the table compares a version string: checked on the syntax tree of
  every module, so names in comments, docstrings and messages do not count.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tuyagate.errors import ConfigError
from tuyagate.protocol import payloads
from tuyagate.protocol.commands import Command
from tuyagate.protocol.discovery import decode_datagram, encode_announcement
from tuyagate.protocol.frames import PREFIX_6699
from tuyagate.protocol.versions import DEVICE22, VERSIONS, Encryption, Template, get_spec

SRC = Path(__file__).resolve().parents[2] / "src" / "tuyagate"
TABLE = SRC / "protocol" / "versions.py"
DEV_ID = "bf12ab34cd56ef78aa01"
# Version numbers. (Comparisons with "device22" remain where foreign or old stored data is read:
# tinytuya's ``dev_type`` field and registry records written before the one spelling.)
VERSION_LITERAL = re.compile(r"^v?3\.\d+$")


@pytest.mark.parametrize("key", list(VERSIONS))
def test_every_label_reads_back_as_its_spec(key: str) -> None:
    spec = VERSIONS[key]
    assert spec.label == key
    assert get_spec(spec.label) is spec


def test_device22_has_one_spelling() -> None:
    assert get_spec(DEVICE22) == get_spec("3.3").as_device22()
    assert get_spec("3.3").as_device22().label == "device22"
    for old in ("22", "3.3d22", "3.3-device22", "3.3 (device22)"):
        with pytest.raises(ConfigError, match="unknown protocol version"):
            get_spec(old)
    assert get_spec(3.3) is get_spec("3.3")  # tinytuya's float versions


@pytest.mark.parametrize("key", list(VERSIONS))
def test_payload_builders_take_their_commands_from_the_table(key: str) -> None:
    spec = VERSIONS[key]
    assert payloads.query_request(spec, DEV_ID, t=1)[0] == spec.query_cmd
    assert payloads.query_request(spec, DEV_ID, t=1, cid="c1")[0] == spec.child_query_cmd
    assert payloads.control_request(spec, DEV_ID, {"1": True}, t=1)[0] == spec.control_cmd
    assert payloads.control_request(spec, DEV_ID, {"1": True}, t=1, cid="c1")[0] == spec.control_cmd


def test_what_the_table_says_per_version() -> None:
    rows = {
        key: (s.query_cmd, s.control_cmd, s.child_query_cmd, s.template, s.session_key, s.device22)
        for key, s in VERSIONS.items()
    }
    legacy = (Command.DP_QUERY, Command.CONTROL, Command.DP_QUERY, Template.LEGACY, False)
    new = (Command.DP_QUERY_NEW, Command.CONTROL_NEW, Command.DP_QUERY_NEW, Template.PROTOCOL5, True)
    d22 = (Command.CONTROL_NEW, Command.CONTROL, Command.DP_QUERY, Template.LEGACY, False)
    assert rows == {
        "3.1": (*legacy, False),
        "3.2": (*d22, True),
        "3.3": (*legacy, False),
        "3.4": (*new, False),
        "3.5": (*new, False),
        "device22": (*d22, True),
    }
    # A device22 query of 3.3 asks for the wanted DPs with null values.
    assert payloads.query_request(VERSIONS[DEVICE22], DEV_ID, t=1, dp_ids=["1", "20"])[1]["dps"] == {
        "1": None,
        "20": None,
    }
    # 3.4/3.5 have no other query to switch to: the variant keeps DP_QUERY_NEW.
    assert VERSIONS["3.5"].as_device22().query_cmd == Command.DP_QUERY_NEW


def test_which_failures_the_local_key_explains() -> None:
    assert [k for k, s in VERSIONS.items() if s.local_key_encrypts] == ["3.1", "3.2", "3.3", "device22"]
    spec31 = get_spec("3.1")
    assert spec31.encrypts(Command.CONTROL)
    assert not spec31.encrypts(Command.DP_QUERY)  # 3.1 queries are plaintext
    assert all(get_spec("3.3").encrypts(cmd) for cmd in (Command.DP_QUERY, Command.CONTROL, Command.HEART_BEAT))


@pytest.mark.parametrize("key", list(VERSIONS))
def test_announcements_follow_the_table(key: str) -> None:
    spec = VERSIONS[key]
    info: dict[str, object] = {"ip": "127.0.1.9", "gwId": DEV_ID, "version": spec.name}
    info["encrypt"] = spec.encrypted_announcement
    frame = encode_announcement(info, version=spec, iv=b"\x01" * 12)
    assert encode_announcement(info, version=key, iv=b"\x01" * 12) == frame  # by key or by spec alike
    assert (frame[:4] == PREFIX_6699) == (spec.encryption is Encryption.GCM_SESSION)
    assert (DEV_ID.encode() in frame) == (not spec.encrypted_announcement)  # 3.1: plaintext
    assert decode_datagram(frame) == info


def _version_comparisons(source: str, where: str) -> list[str]:
    """``x == "3.3"``, ``v >= "3.4"``, ``v in ("3.1", ...)``: comparisons with a version literal."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        literals: list[object] = []
        for operand in operands:
            if isinstance(operand, ast.Constant):
                literals.append(operand.value)
            elif isinstance(operand, ast.Tuple | ast.List | ast.Set):
                literals += [e.value for e in operand.elts if isinstance(e, ast.Constant)]
        if any(
            (isinstance(v, str) and VERSION_LITERAL.match(v)) or (isinstance(v, float) and 3 < v < 4) for v in literals
        ):
            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_version_comparisons_outside_the_table() -> None:
    found = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if path != TABLE
        for hit in _version_comparisons(path.read_text(encoding="utf-8"), str(path.relative_to(SRC.parent)))
    ]
    assert found == []


def test_the_checker_sees_comparisons() -> None:
    source = 'if version == "3.5":\n    pass\nok = v in ("3.1", "3.3")\nnew = ver >= 3.4\nd = t != "v3.3"\n'
    assert len(_version_comparisons(source, "probe")) == 4
