"""The gateway: one local HTTP API for every device (see DESIGN.md and docs/sections/gateway.md).

Entry points: :func:`tuyagate.gateway.app.create_app` (the app factory, over any
``DeviceManager``), :func:`tuyagate.gateway.settings.load_settings` and
:func:`tuyagate.gateway.server.serve_app`. One concept per module:

- ``endpoints``: each endpoint is one function and its declaration, which both serves the request
  (without FastAPI's per-request machinery) and writes its OpenAPI entry; ``serialize``: one
  serializer per answer type, the type the document shows;
- ``native_api``, ``events_api``: the REST API and Server-Sent Events;
- ``cloud_compat`` (+ ``cloud_envelope``, ``cloud_tokens``): the Tuya-cloud-compatible API;
- ``tasmota_compat`` (+ ``tasmota_commands``): the Tasmota-compatible API;
- ``auth``, ``guard``, ``token_cmds`` (in cli/): API tokens, the per-request check, and their CLI;
- ``errors``, ``limits``, ``metrics``, ``state``, ``models``: error shape and codes, body limit,
  Prometheus metrics, the per-app state with device-call deadlines, request bodies and answers.

Nothing is imported here, so ``import tuyagate.gateway`` stays cheap.
"""
