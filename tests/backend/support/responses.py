"""Asserting on API answers: the status first (with the body in the failure message), then the JSON."""

from __future__ import annotations

from typing import Any

import httpx


def expect_ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of an answer that must have `status`."""
    assert response.status_code == status, response.text
    return response.json()


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The JSON body of an error answer that must have `status` and the error `code`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, response.text
    return body
