"""``GET /api/v1/postman``: a Postman collection and environment for the gateway's native and cloud-compatible APIs.

Tuya's own workflow for trying its OpenAPI is Postman with a pre-request script that signs each
request. This export points the same workflow at the gateway: the native API with a bearer token,
and the Tuya-cloud-compatible API with a pre-request script (written here, run by Postman or
newman) that gets an access token from ``/v1.0/token`` and signs every request with HMAC-SHA256
exactly as the Tuya OpenAPI wants. The environment holds the base URL, the cloud-compatible client
id and a device id; the API token and the client secret are left empty for the user to fill in
(the gateway never hands out a secret).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tuyagate.device_api import Device
from tuyagate.gateway.endpoints import Endpoints
from tuyagate.gateway.state import GatewayState

__all__ = ["SIGNING_SCRIPT", "collection", "environment", "router"]

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

# Postman's sandbox offers CryptoJS, pm.environment, pm.request and pm.sendRequest (so does newman).
SIGNING_SCRIPT = r"""
// Signs the request like the Tuya OpenAPI (HMAC-SHA256), after getting an access token from the gateway when needed.
const env = pm.environment;
const clientId = env.get("client_id");
const secret = env.get("client_secret");
if (!clientId || !secret) {
  throw new Error("set client_id and client_secret in the environment (the gateway's cloud_client_id and secret)");
}
const sha256 = (text) => CryptoJS.SHA256(text).toString(CryptoJS.enc.Hex);
const hmac = (text) => CryptoJS.HmacSHA256(text, secret).toString(CryptoJS.enc.Hex).toUpperCase();
const nonce = () => CryptoJS.lib.WordArray.random(16).toString(CryptoJS.enc.Hex);

// The signed URL: the path, then the query sorted by key with values as they are (not URL-encoded).
function signedUrl(path, pairs) {
  const query = pairs.filter((p) => p.key).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((p) => p.key + "=" + (p.value ?? "")).join("&");
  return query ? path + "?" + query : path;
}

function headersFor(method, url, body, token) {
  const t = Date.now().toString();
  const n = nonce();
  const stringToSign = [method, sha256(body || ""), "", url].join("\n");
  const sign = hmac(clientId + token + t + n + stringToSign);
  return { client_id: clientId, t: t, nonce: n, sign_method: "HMAC-SHA256", sign: sign };
}

function signRequest(token) {
  const request = pm.request;
  const path = pm.variables.replaceIn("/" + request.url.path.join("/"));
  const pairs = request.url.query.all().filter((q) => !q.disabled)
    .map((q) => ({ key: pm.variables.replaceIn(q.key), value: pm.variables.replaceIn(q.value) }));
  const body = request.body && request.body.mode === "raw" ? pm.variables.replaceIn(request.body.raw) : "";
  const headers = headersFor(request.method, signedUrl(path, pairs), body, token);
  if (token) headers.access_token = token;
  for (const [key, value] of Object.entries(headers)) request.headers.upsert({ key: key, value: value });
}

const isTokenApi = pm.request.url.path.join("/").startsWith("v1.0/token");
const cached = env.get("access_token");
if (isTokenApi) {
  signRequest("");
} else if (cached && Number(env.get("access_token_expires") || 0) > Date.now() + 60000) {
  signRequest(cached);
} else {
  const base = pm.variables.replaceIn("{{baseUrl}}");
  const headers = headersFor("GET", "/v1.0/token?grant_type=1", "", "");
  const header = Object.entries(headers).map(([key, value]) => ({ key: key, value: value }));
  pm.sendRequest({ url: base + "/v1.0/token?grant_type=1", method: "GET", header: header }, (err, res) => {
    if (err) throw err;
    const answer = res.json();
    if (!answer.success) throw new Error("the gateway refused the token request: " + answer.code + " " + answer.msg);
    env.set("access_token", answer.result.access_token);
    env.set("access_token_expires", String(Date.now() + answer.result.expire_time * 1000));
    signRequest(answer.result.access_token);
  });
}
""".strip()

NATIVE_TEST = ["pm.test('answered 2xx', () => pm.expect(pm.response.code).to.be.within(200, 299));"]
CLOUD_TEST = ["pm.test('success', () => pm.expect(pm.response.json().success).to.eql(true));"]


def _url(path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    raw = "{{baseUrl}}" + path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    url: dict[str, Any] = {"raw": raw, "host": ["{{baseUrl}}"], "path": [p for p in path.split("/") if p]}
    if query:
        url["query"] = [{"key": k, "value": v} for k, v in query.items()]
    return url


def _request(
    name: str,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: str | None = None,
    description: str = "",
    test: list[str],
) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "header": [], "url": _url(path, query), "description": description}
    if body is not None:
        request["header"] = [{"key": "Content-Type", "value": "application/json"}]
        request["body"] = {"mode": "raw", "raw": body, "options": {"raw": {"language": "json"}}}
    return {
        "name": name,
        "request": request,
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": test}}],
    }


def _switch(device: Device) -> str | None:
    """The device's first writable Boolean DP (a relay or light switch), if any."""
    for entry in device.schema.descriptions():
        if entry.type.value == "Boolean" and not entry.read_only and not entry.write_only:
            return entry.code
    return None


def _example_command(device: Device | None) -> tuple[str, str]:
    """A command body (native, cloud) for the example device: its first writable Boolean, switched on."""
    code = _switch(device) if device is not None else None
    return code or "switch_1", "true"


def collection(base_url: str, device: Device | None) -> dict[str, Any]:
    """The collection: a folder per dialect; requests use ``{{baseUrl}}`` and ``{{device_id}}``."""
    code, value = _example_command(device)
    command = '{"commands": [{"code": "' + code + '", "value": ' + value + "}]}"
    native = [
        _request("List devices", "GET", "/api/v1/devices", test=NATIVE_TEST),
        _request("Device detail", "GET", "/api/v1/devices/{{device_id}}", test=NATIVE_TEST),
        _request("Device status", "GET", "/api/v1/devices/{{device_id}}/status", test=NATIVE_TEST),
        _request("Send commands", "POST", "/api/v1/devices/{{device_id}}/commands", body=command, test=NATIVE_TEST),
        _request(
            "History of a DP",
            "GET",
            "/api/v1/devices/{{device_id}}/history",
            query={"code": "cur_power"},
            test=NATIVE_TEST,
        ),
    ]
    cloud = [
        _request("Get token", "GET", "/v1.0/token", query={"grant_type": "1"}, test=CLOUD_TEST),
        _request("Device", "GET", "/v1.0/devices/{{device_id}}", test=CLOUD_TEST),
        _request("Device status", "GET", "/v1.0/devices/{{device_id}}/status", test=CLOUD_TEST),
        _request("Device functions", "GET", "/v1.0/iot-03/devices/{{device_id}}/functions", test=CLOUD_TEST),
        _request(
            "Send commands",
            "POST",
            "/v1.0/iot-03/devices/{{device_id}}/commands",
            body=command,
            description="Values are the cloud's raw ones (temp_set 215 = 21.5 °C).",
            test=CLOUD_TEST,
        ),
        _request(
            "Status of several devices",
            "GET",
            "/v1.0/iot-03/devices/status",
            query={"device_ids": "{{device_id}}"},
            test=CLOUD_TEST,
        ),
    ]
    bearer = {"type": "bearer", "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}]}
    script = {"type": "text/javascript", "exec": SIGNING_SCRIPT.splitlines()}
    return {
        "info": {
            "name": "tuyagate",
            "description": f"The local API of the tuyagate gateway at {base_url}.",
            "schema": SCHEMA,
        },
        "item": [
            {
                "name": "Native API",
                "description": "Leave the environment's token empty while the gateway requires none.",
                "auth": bearer,
                "item": native,
            },
            {
                "name": "Tuya-cloud-compatible API",
                "description": "Signed like the Tuya OpenAPI by the folder's pre-request script.",
                "auth": {"type": "noauth"},
                "event": [{"listen": "prerequest", "script": script}],
                "item": cloud,
            },
        ],
    }


def environment(base_url: str, client_id: str, device_id: str) -> dict[str, Any]:
    """The environment: the secrets (API token, client secret) are empty, to be filled in by the user."""

    def var(key: str, value: str, secret: bool = False) -> dict[str, Any]:
        return {"key": key, "value": value, "type": "secret" if secret else "default", "enabled": True}

    return {
        "name": "tuyagate",
        "values": [
            var("baseUrl", base_url),
            var("device_id", device_id),
            var("token", "", secret=True),
            var("client_id", client_id),
            var("client_secret", "", secret=True),
            var("access_token", "", secret=True),
            var("access_token_expires", "0"),
        ],
        "_postman_variable_scope": "environment",
    }


router = Endpoints(tags=("dashboard",))


@router.get(
    "/api/v1/postman",
    summary="A Postman collection and environment for the native and the cloud-compatible API",
    description=(
        "Import both into Postman (or run them with newman). The cloud-compatible folder signs its "
        "requests with a pre-request script like Tuya's own Postman set-up; fill in the environment's "
        "`client_secret` (and `token` when the gateway requires API tokens)."
    ),
    response=dict[str, Any],
    scope="read",
)
async def get_postman(gw: GatewayState, request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    devices = gw.manager.devices()
    # The example: a stock device on the LAN with a switch, so that every request of both folders works.
    candidates = [d for d in devices if d.info.backend == "tuya-lan" and _switch(d) is not None]
    example = next((d for d in candidates if d.online), candidates[0] if candidates else None)
    if example is None and devices:
        example = devices[0]
    device_id = example.info.id if example is not None else ""
    return {
        "collection": collection(base, example),
        "environment": environment(base, gw.settings.cloud_client_id, device_id),
    }
