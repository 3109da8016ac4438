"""Signing: every official vector of cloud-api.md §1.2-1.4, an independent signer, properties."""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuyagate.cloud.signing import (
    EMPTY_BODY_SHA256,
    SignScheme,
    canonical_url,
    compute_sign,
    content_sha256,
    hmac_sha256_upper,
    is_token_path,
    sign_headers,
    sign_input,
    signed_header_pairs,
    split_path,
    string_to_sign,
    verify_sign,
)

# The inputs of Tuya's documented example (§1.2 and §1.4).
CLIENT_ID = "1KAD46OrT9HafiKdsXeg"
SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
T = "1588925778000"
ACCESS_TOKEN = "3f4eda2bdec17232f67c0b188af3eec1"
NONCE = "5138cc3a9033d69856923fd07b491173"
HEADERS = [("area_id", "29a33e8796834b1efa6"), ("call_id", "8afdb70ab2ed11eb85290242ac130003")]


# -- §1.2 old scheme -----------------------------------------------------------------------------


def test_old_scheme_token_vector() -> None:
    assert sign_input(client_id=CLIENT_ID, t=T, scheme=SignScheme.OLD) == "1KAD46OrT9HafiKdsXeg1588925778000"
    sign = compute_sign(client_id=CLIENT_ID, secret=SECRET, t=T, scheme=SignScheme.OLD)
    assert sign == "CEAAFB5CCDC2F723A9FD3E91D3D2238EE0DD9A6D7C3C365DEB50FC2AF277AA83"


def test_old_scheme_business_vector() -> None:
    sign = compute_sign(client_id=CLIENT_ID, secret=SECRET, t=T, access_token=ACCESS_TOKEN, scheme=SignScheme.OLD)
    assert sign == "36C30E300F226B68ADD014DD1EF56A81EDB7B7A817840485769B9D6C96D0FAA1"


def test_old_scheme_ignores_method_body_and_url() -> None:
    plain = compute_sign(client_id=CLIENT_ID, secret=SECRET, t=T, access_token=ACCESS_TOKEN, scheme=SignScheme.OLD)
    busy = compute_sign(
        client_id=CLIENT_ID,
        secret=SECRET,
        t=T,
        access_token=ACCESS_TOKEN,
        method="POST",
        path="/v1.0/devices/x/commands",
        body=b'{"commands":[]}',
        nonce=NONCE,
        scheme=SignScheme.OLD,
    )
    assert plain == busy


# -- §1.3 current scheme: the pieces -------------------------------------------------------------


def test_empty_body_hash() -> None:
    assert content_sha256(b"") == EMPTY_BODY_SHA256
    assert content_sha256(None) == EMPTY_BODY_SHA256
    assert EMPTY_BODY_SHA256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_body_hash_is_of_the_exact_bytes() -> None:
    assert content_sha256('{"a": 1}') != content_sha256('{"a":1}')
    assert content_sha256("é") == content_sha256("é".encode())


def test_string_to_sign_without_signed_headers_has_an_empty_line() -> None:
    # Tuya's "Verify Signature Result" page logs a token call as
    # client_id + t + "GET\ne3b0...b855\n\n/v1.0/token?grant_type=1" (no nonce, no headers).
    sts = string_to_sign("GET", "/v1.0/token", {"grant_type": 1})
    assert sts == f"GET\n{EMPTY_BODY_SHA256}\n\n/v1.0/token?grant_type=1"
    assert sign_input(client_id="xdkcpq", t="1630045879476", path="/v1.0/token?grant_type=1") == (
        f"xdkcpq1630045879476GET\n{EMPTY_BODY_SHA256}\n\n/v1.0/token?grant_type=1"
    )


def test_string_to_sign_with_signed_headers() -> None:
    sts = string_to_sign("get", "/v1.0/token?grant_type=1", signed_headers=HEADERS)
    assert sts == (
        f"GET\n{EMPTY_BODY_SHA256}\narea_id:29a33e8796834b1efa6\ncall_id:8afdb70ab2ed11eb85290242ac130003\n\n"
        "/v1.0/token?grant_type=1"
    )


def test_url_query_sorted_by_key_with_raw_values() -> None:
    assert canonical_url("/v2.0/apps/schema/users", {"page_size": 50, "page_no": 1}) == (
        "/v2.0/apps/schema/users?page_no=1&page_size=50"
    )
    # values are signed un-encoded: tinytuya signs type=1,7 and sends type=1%2C7
    assert canonical_url("/v1.0/devices/x/logs?type=1%2C7&end_time=2") == "/v1.0/devices/x/logs?end_time=2&type=1,7"
    assert canonical_url("/p", [("b", "2"), ("a", "x y")]) == "/p?a=x y&b=2"
    assert canonical_url("/p") == "/p"


def test_split_path() -> None:
    assert split_path("/a/b?x=1&y=%2C&z=") == ("/a/b", [("x", "1"), ("y", ","), ("z", "")])
    assert split_path("/a") == ("/a", [])


def test_token_paths() -> None:
    assert is_token_path("/v1.0/token")
    assert is_token_path("/v1.0/token?grant_type=1")
    assert is_token_path("/v1.0/token/abcdef")
    assert not is_token_path("/v1.0/tokens")
    assert not is_token_path("/v1.0/devices/token")


# -- §1.4 the official worked example -------------------------------------------------------------


def test_official_token_vector() -> None:
    sign = compute_sign(
        client_id=CLIENT_ID, secret=SECRET, t=T, nonce=NONCE, path="/v1.0/token?grant_type=1", signed_headers=HEADERS
    )
    assert sign == "9E48A3E93B302EEECC803C7241985D0A34EB944F40FB573C7B5C2A82158AF13E"


def test_official_business_vector() -> None:
    sign = compute_sign(
        client_id=CLIENT_ID,
        secret=SECRET,
        t=T,
        nonce=NONCE,
        access_token=ACCESS_TOKEN,
        path="/v2.0/apps/schema/users",
        query={"page_size": 50, "page_no": 1},
        signed_headers=HEADERS,
    )
    assert sign == "AE4481C692AA80B25F3A7E12C3A5FD9BBF6251539DD78E565A1A72A508A88784"


def test_official_negative_control_unsorted_query() -> None:
    # The same business request signed with the query left unsorted gives FB915999...E573 (not the right sign).
    unsorted = (
        f"GET\n{EMPTY_BODY_SHA256}\narea_id:29a33e8796834b1efa6\ncall_id:8afdb70ab2ed11eb85290242ac130003\n\n"
        "/v2.0/apps/schema/users?page_size=50&page_no=1"
    )
    wrong = hmac_sha256_upper(SECRET, CLIENT_ID + ACCESS_TOKEN + T + NONCE + unsorted)
    assert wrong.startswith("FB915999")
    assert wrong.endswith("E573")
    assert wrong != "AE4481C692AA80B25F3A7E12C3A5FD9BBF6251539DD78E565A1A72A508A88784"


def test_official_token_vector_without_signed_headers() -> None:
    # "Without the signed headers the token sign would be 3206F74C...F67F681" (the nonce stays).
    sign = compute_sign(client_id=CLIENT_ID, secret=SECRET, t=T, nonce=NONCE, path="/v1.0/token?grant_type=1")
    assert sign.startswith("3206F74C")
    assert sign.endswith("F67F681")


def test_verify_accepts_the_vectors_and_names_the_scheme() -> None:
    both = (SignScheme.CURRENT, SignScheme.OLD)
    common: dict[str, Any] = {"client_id": CLIENT_ID, "secret": SECRET, "t": T}
    assert (
        verify_sign(
            "9E48A3E93B302EEECC803C7241985D0A34EB944F40FB573C7B5C2A82158AF13E",
            **common,
            nonce=NONCE,
            path="/v1.0/token",
            query=[("grant_type", "1")],
            signed_headers=HEADERS,
            schemes=both,
        )
        is SignScheme.CURRENT
    )
    assert (
        verify_sign(
            "36c30e300f226b68add014dd1ef56a81edb7b7a817840485769b9d6c96d0faa1",
            **common,
            access_token=ACCESS_TOKEN,
            schemes=both,
        )
        is SignScheme.OLD
    )
    # the old scheme is refused when only the current one is allowed
    assert (
        verify_sign(
            "36C30E300F226B68ADD014DD1EF56A81EDB7B7A817840485769B9D6C96D0FAA1", **common, access_token=ACCESS_TOKEN
        )
        is None
    )
    assert verify_sign("", **common) is None
    assert verify_sign("not hex at all é", **common) is None


# -- headers -------------------------------------------------------------------------------------


def test_signed_header_pairs_reads_the_list_case_insensitively() -> None:
    incoming = {"signature-headers": "Content-type:area_id:missing", "content-type": "application/json", "area_id": "7"}
    assert signed_header_pairs(incoming) == [("Content-type", "application/json"), ("area_id", "7")]
    assert signed_header_pairs({"t": "1"}) == []


def test_sign_headers_round_trip_through_verify() -> None:
    headers = sign_headers(
        client_id=CLIENT_ID,
        secret=SECRET,
        t=T,
        access_token=ACCESS_TOKEN,
        nonce=NONCE,
        method="POST",
        path="/v1.0/iot-03/devices/d1/commands",
        query={"b": 2, "a": True},
        body=b'{"commands":[]}',
        extra_signed={"area_id": "29a33e8796834b1efa6"},
    )
    assert headers["Signature-Headers"] == "area_id"
    assert headers["sign_method"] == "HMAC-SHA256"
    assert headers["nonce"] == NONCE
    assert "secret" not in json.dumps(headers).lower()
    scheme = verify_sign(
        headers["sign"],
        client_id=CLIENT_ID,
        secret=SECRET,
        t=headers["t"],
        access_token=headers["access_token"],
        nonce=headers["nonce"],
        method="POST",
        path="/v1.0/iot-03/devices/d1/commands",
        query=[("a", "true"), ("b", "2")],
        body=b'{"commands":[]}',
        signed_headers=signed_header_pairs(headers),
    )
    assert scheme is SignScheme.CURRENT


def test_old_scheme_headers_carry_no_nonce() -> None:
    headers = sign_headers(client_id=CLIENT_ID, secret=SECRET, t=T, nonce=NONCE, scheme=SignScheme.OLD)
    assert "nonce" not in headers
    assert headers["sign"] == "CEAAFB5CCDC2F723A9FD3E91D3D2238EE0DD9A6D7C3C365DEB50FC2AF277AA83"


# -- an independent signer: tinytuya's Cloud, time frozen, HTTP captured ---------------------------


class _Captured:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def response(self, method: str, url: str, headers: dict[str, str], data: Any = None) -> Any:
        body = data.encode() if isinstance(data, str) else (data or b"")
        if isinstance(body, dict):
            body = b""
        self.requests.append((method, url, dict(headers), body))
        payload = {"success": True, "t": int(T), "result": {"access_token": ACCESS_TOKEN, "uid": "u"}}

        class _Response:
            status_code = 200
            text = json.dumps(payload)
            content = text.encode()

        return _Response()


@pytest.fixture
def tinytuya_capture(monkeypatch: pytest.MonkeyPatch) -> _Captured:
    import tinytuya  # noqa: F401  (loads the module below)

    module = sys.modules["tinytuya.Cloud"]
    captured = _Captured()
    monkeypatch.setattr(module.time, "time", lambda: int(T) / 1000)
    monkeypatch.setattr(module.requests, "get", lambda url, headers: captured.response("GET", url, headers))
    monkeypatch.setattr(
        module.requests,
        "request",
        lambda method, url, headers, data: captured.response(method, url, headers, data),
    )
    return captured


@pytest.mark.parametrize("new_sign", [True, False])
def test_tinytuya_signed_requests_verify(tinytuya_capture: _Captured, new_sign: bool) -> None:
    import tinytuya

    cloud = tinytuya.Cloud(apiRegion="eu", apiKey=CLIENT_ID, apiSecret=SECRET, new_sign_algorithm=new_sign)
    cloud.cloudrequest("/v1.0/devices/dev1/logs", query={"type": "1,7", "start_time": 1, "end_time": 2, "size": 100})
    cloud.sendcommand("dev1", {"commands": [{"code": "switch_1", "value": True}]})
    assert len(tinytuya_capture.requests) == 3
    allowed = (SignScheme.CURRENT,) if new_sign else (SignScheme.OLD,)
    for method, url, headers, body in tinytuya_capture.requests:
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        token_api = is_token_path(parts.path)
        scheme = verify_sign(
            headers["sign"],
            client_id=CLIENT_ID,
            secret=SECRET,
            t=headers["t"],
            access_token="" if token_api else headers["access_token"],
            method=method,
            path=path,
            body=body,
            signed_headers=signed_header_pairs(headers),
            schemes=allowed,
        )
        assert scheme is allowed[0], (method, url)


# -- properties ----------------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="&=#?%+\x00"), max_size=12)
_query = st.lists(st.tuples(st.text("abcdefgh_", min_size=1, max_size=6), _text), max_size=4)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.from_regex(r"/v1\.[0-3]/[a-z0-9/_-]{1,30}", fullmatch=True),
    query=_query,
    body=st.binary(max_size=64),
    nonce=st.text("0123456789abcdef", max_size=32),
)
def test_any_request_verifies_and_any_change_breaks_it(
    method: str, path: str, query: list[tuple[str, str]], body: bytes, nonce: str
) -> None:
    args: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "secret": SECRET,
        "t": T,
        "access_token": ACCESS_TOKEN,
        "nonce": nonce,
        "method": method,
        "path": path,
        "query": query,
        "body": body,
    }
    sign = compute_sign(**args)
    assert verify_sign(sign, **args) is SignScheme.CURRENT
    changes: list[dict[str, Any]] = [
        {"t": "1588925778001"},
        {"access_token": ACCESS_TOKEN[:-1]},
        {"nonce": nonce + "0"},
        {"method": "PATCH"},
        {"path": path + "x"},
        {"query": [*query, ("zz", "1")]},
        {"body": body + b" "},
        {"secret": SECRET.lower()},
    ]
    for change in changes:
        assert verify_sign(sign, **{**args, **change}) is None, change


@given(query=st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=6), _text, max_size=5))
def test_query_order_does_not_matter(query: dict[str, str]) -> None:
    items = list(query.items())
    assert canonical_url("/p", items) == canonical_url("/p", items[::-1]) == canonical_url("/p", query)
