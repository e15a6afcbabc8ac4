"""The HTTP API: health, contract terms, clear 404s, and the OpenAPI description."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.server import create_app
from tests.helpers import stored_minimal


def test_health_and_contracts(engine) -> None:
    stored_minimal(engine)
    client = TestClient(create_app(engine))
    health = client.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert client.get("/api/v1/contracts").json() == [
        {"id": "test-contract", "name": "Test contract", "currency": "SEK", "versions": 2}]
    detail = client.get("/api/v1/contracts/test-contract").json()
    assert detail["version"] == 2 and detail["terms"]["payments"]["mechanisms"][0]["price"] == "1200"
    assert [v["reason"] for v in detail["versions"]] == ["Original contract", "Price raised"]


def test_unknown_contract_is_404(engine) -> None:
    client = TestClient(create_app(engine))
    response = client.get("/api/v1/contracts/nope")
    assert response.status_code == 404 and response.json() == {"detail": "no contract 'nope'"}


def test_openapi_is_published(engine) -> None:
    client = TestClient(create_app(engine))
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/health", "/api/v1/contracts", "/api/v1/contracts/{contract_id}"} <= set(paths)
    assert client.get("/docs").status_code == 200
