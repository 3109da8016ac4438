"""The gateway: one local HTTP API for every device (see DESIGN.md and docs/sections/gateway.md).

Entry points: :func:`tuyagate.gateway.app.create_app` (the app factory, over any
``DeviceManager``), :func:`tuyagate.gateway.settings.load_settings` and
:func:`tuyagate.gateway.server.serve_app`. One concept per module:

- ``native_api``, ``events_api``: the REST API and Server-Sent Events; ``fastpath``: hot endpoints
  documented by FastAPI but served without its per-request machinery;
- ``cloud_compat`` (+ ``cloud_envelope``, ``cloud_tokens``): the Tuya-cloud-compatible API;
- ``tasmota_compat`` (+ ``tasmota_commands``): the Tasmota-compatible API;
- ``auth``, ``guard``, ``token_cli``: API tokens, the per-request check, and their CLI;
- ``errors``, ``limits``, ``metrics``, ``state``, ``models``: error shape, body limit, Prometheus
  metrics, the per-app state with device-call deadlines, request/response models.

Nothing is imported here, so ``import tuyagate.gateway`` stays cheap.
"""
