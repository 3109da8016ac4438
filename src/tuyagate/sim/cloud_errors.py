"""The error answer of the emulated cloud, shared by the OpenAPI and the app API emulation."""

from __future__ import annotations

__all__ = ["ApiError"]


class ApiError(Exception):
    """An answer ``{"success": false, "code": code, "msg": msg}`` (HTTP 200, as the cloud does).

    Codes are numbers on the OpenAPI; the app login answers some as strings (``"E0020003"``).
    """

    def __init__(self, code: int | str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
