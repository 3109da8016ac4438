"""The emulator's side of the app API's request protection agrees with the SDK's own helpers, byte for byte."""

from __future__ import annotations

import json

import pytest

from tuyagate.sim import app_crypto

customerapi = pytest.importorskip("tuya_sharing.customerapi")

RID = "3f1c2b9e-5d1a-4c8e-9a77-0d2c1e4b6a10"  # a request id and refresh token made up for the test
REFRESH = "5e0f7d1c9a2b4e6f8a0c2e4f6a8b0c2d"


def test_keys_match_the_sdk() -> None:
    hash_key, key = app_crypto.request_keys(RID, REFRESH)
    import hashlib

    assert hash_key == hashlib.md5((RID + REFRESH).encode()).hexdigest()
    assert key.decode() == customerapi._secret_generating(RID, "", hash_key)
    assert len(key) == 16
    # the sid branch, as the SDK computes it (the SDK itself always sends an empty X-sid)
    sid = "0123456789abcdefXYZ"
    assert app_crypto.request_keys(RID, REFRESH, sid)[1].decode() == customerapi._secret_generating(RID, sid, hash_key)
    with pytest.raises(app_crypto.CryptoError):
        app_crypto.request_keys(RID, REFRESH, "zz")


def test_sign_matches_the_sdk() -> None:
    hash_key, _ = app_crypto.request_keys(RID, REFRESH)
    headers = {"X-appKey": "HA_3y9q4ak7g4ephrvke", "X-requestId": RID, "X-sid": "", "X-time": "1700000000000"}
    for extra, query, body in (({}, "", ""), ({"X-token": "acc"}, "qqqq", ""), ({"X-token": "acc"}, "", "bbbb")):
        both = {**headers, **extra}
        assert app_crypto.sign(hash_key, both, query, body) == customerapi._restful_sign(hash_key, query, body, both)


def test_encdata_both_ways_with_the_sdk() -> None:
    _, key = app_crypto.request_keys(RID, REFRESH)
    secret = key.decode()
    params = {"homeId": "4200001", "devIds": "a,b"}
    # what the SDK sends, the emulator opens
    sent = customerapi._aes_gcm_encrypt(customerapi._form_to_json(params), secret).decode()
    assert app_crypto.decrypt_part(sent, key) == params
    # and the other way (the emulator's encrypt_part is what a test client sends)
    ours = app_crypto.encrypt_part(params, key, b"012345678901")
    assert ours.startswith("MDEyMzQ1Njc4OTAx")  # base64 of the nonce, then base64 of the ciphertext
    assert app_crypto.decrypt_part(ours, key) == params
    # what the emulator answers, the SDK opens
    result = [{"id": "bf1", "local_key": "k" * 16}]
    sealed = app_crypto.encrypt_result(result, key, b"abcdefabcdef")
    assert json.loads(customerapi._aex_gcm_decrypt(sealed, secret)) == result
    assert app_crypto.decrypt_result(sealed, key) == result


@pytest.mark.parametrize("bad", ["", "not base64 at all!!", "MDEyMzQ1Njc4OTAxAAAA", "MDEy" + "A" * 40])
def test_encdata_that_does_not_open_is_a_crypto_error(bad: str) -> None:
    _, key = app_crypto.request_keys(RID, REFRESH)
    with pytest.raises(app_crypto.CryptoError):
        app_crypto.decrypt_part(bad, key)
    with pytest.raises(app_crypto.CryptoError):
        app_crypto.decrypt_result(bad or "AAAA", key)
    other = app_crypto.request_keys(RID, "another refresh token")[1]
    with pytest.raises(app_crypto.CryptoError):
        app_crypto.decrypt_part(app_crypto.encrypt_part({"a": 1}, key, b"012345678901"), other)
