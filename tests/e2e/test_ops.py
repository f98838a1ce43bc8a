"""Probes, metrics and the published API description."""

from __future__ import annotations


def test_healthz_is_alive(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reports_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_names_redis_when_it_is_unreachable(app, client):
    from app.extensions import make_redis_client, redis_store

    original = redis_store.client
    redis_store.client = make_redis_client("redis://127.0.0.1:1/0")
    try:
        response = client.get("/readyz")
    finally:
        redis_store.client = original
    assert response.status_code == 503 and response.json["checks"]["redis"].startswith("error")


def test_metrics_count_requests_per_endpoint(client):
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'shuima_http_requests_total{endpoint="health.healthz",method="GET",status="200"}' in text


def test_openapi_documents_routes_roles_and_bearer_auth(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    code = spec["paths"]["/api/v1/me/code"]["get"]
    assert code["x-roles"] == ["taxpayer"] and code["security"] == [{"bearerAuth": []}]
    assert "/api/v1/verifications" in spec["paths"] and "/.well-known/jwks.json" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert client.get("/docs").status_code == 200


def test_unknown_route_answers_the_error_shape(client):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404 and set(response.json) == {"code", "status", "message", "errors"}


def test_access_log_writes_json_lines_with_identifiers_masked(factory, client, capsys):
    """Through the handler the app really installs, not a filter applied by hand."""
    import json

    from app.ops.logging import configure_logging

    headers = factory.as_admin()
    uscc = factory.taxpayer("A")
    configure_logging("INFO", json_lines=True)  # bound to the captured stderr
    try:
        client.get(f"/api/v1/taxpayers/{uscc}", headers=headers)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging("INFO", json_lines=False)
    (line,) = [entry for entry in lines if entry.get("name") == "shuima.access"]
    assert line["path"] == f"/api/v1/taxpayers/{uscc[:4]}{'*' * 12}{uscc[-2:]}"
    assert uscc not in json.dumps(line, ensure_ascii=False)
    assert (line["status"], line["role"], line["level"]) == (200, "tax_admin", "INFO")
    assert line["duration_ms"] >= 0
