"""One serializer per answer type: the pydantic serializer of the type the OpenAPI document shows.

``json_response(StatusOut, payload)`` writes ``payload`` exactly as the typed dict ``StatusOut``
describes it (pydantic-core, in Rust: about 4x faster than ``json.dumps`` for a status answer, and
no model is built), and refuses to send what does not fit the type (``warnings="error"``): a
handler bug becomes a 500 ``internal_error`` instead of an answer that contradicts the docs.
:func:`json_schemas` gives the JSON schemas of the same types for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from starlette.responses import Response

__all__ = ["REF_TEMPLATE", "adapter", "dump", "json_response", "json_schemas"]

REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"


@cache
def adapter(kind: Any) -> TypeAdapter[Any]:
    """The (cached) pydantic adapter of an answer or body type."""
    return TypeAdapter(kind)


def dump(kind: Any, payload: Any) -> bytes:
    """``payload`` as JSON bytes, written as ``kind`` describes it (the adapter's serializer itself:
    ``TypeAdapter.dump_json`` only passes it its sixteen options again, on every answer)."""
    return adapter(kind).serializer.to_json(payload, warnings="error")


def json_response(kind: Any, payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dump(kind, payload), status_code=status, headers=headers, media_type=JSON)


def json_schemas(
    kinds: Iterable[tuple[Any, str]],
) -> tuple[dict[tuple[Any, str], dict[str, Any]], dict[str, Any]]:
    """JSON schemas of ``(type, "validation"|"serialization")`` pairs, and their shared definitions.

    References point into the OpenAPI document's ``components/schemas``.
    """
    inputs = [(kind, mode, adapter(kind)) for kind, mode in dict.fromkeys(kinds)]
    by_key, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)  # type: ignore[arg-type]
    return dict(by_key), dict(definitions.get("$defs", {}))
