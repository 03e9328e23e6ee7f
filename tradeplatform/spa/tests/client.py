"""The SPA's requests as its code builds them, and checks of the types its pages read.

`apiClient` (frontend/src/lib/api-client.ts) and the pages' own `fetch` calls send
`Content-Type: application/json` on every request, `Authorization: Bearer <token>` when
signed in, and `JSON.stringify(body)` (or no body at all) on writes."""

import json
from datetime import datetime

from django.test import Client

from accounts.tests.factories import TEST_PASSWORD

NUMBER = "number"


class SpaClient:
    def __init__(self, token: str | None = None):
        self.http = Client()
        self.token = token

    def _headers(self) -> dict:
        headers = {"content_type": "application/json"}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        return headers

    def request(self, method: str, path: str, body=None):
        data = "" if body is None else json.dumps(body)
        return self.http.generic(method, path, data, **self._headers())

    def get(self, path: str):
        return self.http.get(path, **self._headers())

    def post(self, path: str, body=None):
        return self.request("POST", path, body)

    def put(self, path: str, body=None):
        return self.request("PUT", path, body)

    def delete(self, path: str):
        return self.request("DELETE", path)


def signed_in(user) -> SpaClient:
    """Signs in as the SPA does (NextAuth's credentials provider posts to /api/user/login)."""
    response = SpaClient().post("/api/user/login", {"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 200, response.content
    return SpaClient(response.json()["token"])


def _is(value, kind) -> bool:
    if kind == NUMBER:  # a JSON number: the SPA calls .toFixed() on it
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == datetime:
        return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(kind, tuple):  # (kind, None): nullable
        return value is None or any(_is(value, item) for item in kind if item is not None)
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def assert_shape(item: dict, shape: dict) -> None:
    """Every field the page reads is there with its type."""
    for field, kind in shape.items():
        assert field in item, f"{field} missing from {sorted(item)}"
        assert _is(item[field], kind), f"{field}: {item[field]!r} is not {kind}"
