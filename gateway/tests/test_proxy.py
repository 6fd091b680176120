import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from zhenxi_common.testing import free_port

from conftest import bearer, new_user


def _tips_info_requests(tips_url: str) -> float:
    body = httpx.get(f"{tips_url}/metrics").text
    total = 0.0
    for line in body.splitlines():
        if line.startswith("http_requests_total{") and 'route="/v1/info"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_routes_to_service_with_signed_identity(gateway):
    _, tokens = new_user(gateway)
    me = gateway.get("/api/auth/me", headers=bearer(tokens)).json()
    r = gateway.get("/api/tips/v1/info", headers=bearer(tokens))
    assert r.status_code == 200, r.text
    assert r.json()["service"] == "tips"
    assert r.json()["caller"] == {"user_id": me["user_id"], "role": "patient"}
    assert len(r.headers.get_list("x-request-id")) == 1


def test_request_id_is_carried_to_the_service(gateway):
    _, tokens = new_user(gateway)
    r = gateway.get("/api/tips/v1/info", headers={**bearer(tokens), "X-Request-ID": "trace-abc-123"})
    assert r.headers["x-request-id"] == "trace-abc-123"


def test_forged_identity_headers_are_stripped(gateway):
    _, tokens = new_user(gateway)
    forged = {"x-zhenxi-identity": "eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9", "x-zhenxi-timestamp": "1",
              "x-zhenxi-signature": "0" * 64}
    r = gateway.get("/api/tips/v1/info", headers={**bearer(tokens), **forged})
    assert r.status_code == 200 and r.json()["caller"]["role"] == "patient"


def test_malformed_jwt_never_reaches_the_service(gateway, tips_url):
    before = _tips_info_requests(tips_url)
    for token in ("not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"):
        r = gateway.get("/api/tips/v1/info", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"
    assert gateway.get("/api/tips/v1/info").json()["error"]["code"] == "auth_required"
    assert _tips_info_requests(tips_url) == before


def test_service_refuses_requests_that_bypass_the_gateway(tips_url):
    r = httpx.get(f"{tips_url}/v1/info")
    assert r.status_code == 401 and r.json()["error"]["code"] == "gateway_required"
    forged = {"x-zhenxi-identity": "eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0", "x-zhenxi-timestamp": "9999999999",
              "x-zhenxi-signature": "ab" * 32}
    r = httpx.get(f"{tips_url}/v1/info", headers=forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "gateway_signature_invalid"


def test_unknown_routes_are_json_404(gateway):
    _, tokens = new_user(gateway)
    r = gateway.get("/api/nosuch/v1/x", headers=bearer(tokens))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_service"
    r = gateway.get("/api/tips/v1/does-not-exist", headers=bearer(tokens))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = gateway.get("/no/such/page")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_down_service_is_503(gateway):
    _, tokens = new_user(gateway)
    r = gateway.get("/api/booking/v1/info", headers=bearer(tokens))
    assert r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable"


def test_oversized_body_is_413(make_gateway):
    gw = make_gateway(max_body_bytes=1024)
    _, tokens = new_user(gw)
    r = gw.post("/api/tips/v1/info", content=b"x" * 5000, headers=bearer(tokens))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks():
        for _ in range(10):
            yield b"y" * 512

    r = gw.post("/api/tips/v1/info", content=chunks(), headers=bearer(tokens))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_cors_preflight(gateway):
    r = gateway.options("/api/auth/login", headers={"Origin": "http://localhost:8000",
                                                    "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://localhost:8000"
    r = gateway.options("/api/auth/login", headers={"Origin": "http://evil.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_health_docs_and_web(gateway):
    h = gateway.get("/api/health")
    assert h.status_code == 503  # only tips runs in this test
    assert h.json()["status"] == "degraded"
    assert h.json()["services"]["tips"] == {"status": "ok", "circuit": "closed"}
    assert h.json()["services"]["ocr"]["status"] == "down"
    assert h.json()["services"]["ocr"]["reason"].startswith("unreachable")
    spec = gateway.get("/api/openapi.json").json()
    assert "/api/auth/login" in spec["paths"] and "/api/tips/v1/info" in spec["paths"]
    assert "tips__ServiceInfo" in spec["components"]["schemas"]
    assert "swagger-ui" in gateway.get("/api/docs").text
    assert gateway.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert "诊析" in gateway.get("/").text
    assert gateway.get("/healthz").json() == {"status": "ok"}
    assert gateway.get("/readyz").status_code == 200


def test_health_and_docs_stay_open_when_a_circuit_opens(make_gateway):
    """A dead service opens its circuit; health and the aggregated docs still answer with everything else."""
    gw = make_gateway()
    _, tokens = new_user(gw)
    for _ in range(6):
        r = gw.get("/api/booking/v1/info", headers=bearer(tokens))
        assert r.status_code == 503
    assert "circuit open" in r.json()["error"]["message"]
    h = gw.get("/api/health")
    assert h.status_code == 503 and h.json()["status"] == "degraded", h.text
    services = h.json()["services"]
    assert services["tips"]["status"] == "ok"
    assert services["booking"]["status"] == "down" and services["booking"]["circuit"] == "opened"
    assert services["booking"]["reason"]
    spec = gw.get("/api/openapi.json")
    assert spec.status_code == 200, spec.text
    assert "/api/tips/v1/info" in spec.json()["paths"]
    assert spec.json()["x-zhenxi-services"]["tips"] == {"status": "ok"}
    assert spec.json()["x-zhenxi-services"]["booking"]["status"] == "missing"
    assert "booking" in spec.json()["info"]["description"]


def test_docs_serve_the_last_good_copy_of_a_service_that_stops_answering(make_gateway, header_recorder):
    url, _ = header_recorder
    gw = make_gateway(tips_url=url)
    assert "/api/tips/v1/info" in gw.get("/api/openapi.json").json()["paths"]
    gw.app.state.settings.tips_url = f"http://127.0.0.1:{free_port()}"  # tips now unreachable
    spec = gw.get("/api/openapi.json").json()
    assert "/api/tips/v1/info" in spec["paths"]
    assert spec["x-zhenxi-services"]["tips"]["status"] == "stale"


def test_wrong_method_on_a_gateway_path_is_405_not_unknown_service(gateway):
    r = gateway.put("/api/auth/login", json={"username": "a", "password": "b"})
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["allow"] == "POST"
    assert gateway.get("/api/auth/nothing-here").json()["error"]["code"] == "unknown_service"


def test_aggregated_spec_declares_security_and_platform_answers(gateway):
    spec = gateway.get("/api/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "apiKey"}
    info = spec["paths"]["/api/tips/v1/info"]["get"]
    assert info["security"] == [{"bearerAuth": []}, {"apiKey": []}]
    assert {"401", "403", "429", "503", "504"} <= set(info["responses"])
    login = spec["paths"]["/api/auth/login"]["post"]
    assert login["security"] == [] and {"400", "422", "429"} <= set(login["responses"])
    assert "security" not in spec["paths"]["/api/health"]["get"]


def test_aggregated_spec_declares_the_platform_error_body_for_422():
    # a service's document carries FastAPI's own 422 (a `detail` list); the body every service sends is the
    # platform's error body, and the aggregated document says so. A 422 the service declared itself is kept.
    from app.openapi_rules import apply_platform_rules

    framework = {"description": "Validation Error",
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
    own = {"description": "`unknown_indicator`", "content": {"application/json": {"schema": {}}}}
    spec = {"paths": {"/api/ocr/v1/a": {"post": {"requestBody": {"required": True}, "responses": {"422": framework}}},
                      "/api/ocr/v1/b": {"post": {"requestBody": {"required": True}, "responses": {"422": own}}}}}
    out = apply_platform_rules(spec, ["ocr"])
    a = out["paths"]["/api/ocr/v1/a"]["post"]["responses"]["422"]
    assert a["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert a["content"]["application/json"]["example"]["error"]["code"] == "validation_error"
    assert out["paths"]["/api/ocr/v1/b"]["post"]["responses"]["422"] is own


class _QuietStream(BaseHTTPRequestHandler):
    """A stand-in for a service's SSE endpoint: answers at once, then stays quiet for ``pause`` seconds
    between two events."""

    pause = 0.0

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b"data: first\n\n")
        self.wfile.flush()
        time.sleep(self.pause)
        self.wfile.write(b"data: second\n\n")
        self.wfile.flush()


def test_a_started_stream_may_stay_quiet_longer_than_the_route_budget(make_gateway):
    handler = type("QuietStream", (_QuietStream,), {"pause": 1.5})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gw = make_gateway(tips_url=f"http://127.0.0.1:{server.server_address[1]}",
                          upstream_budgets_s={"*": 0.5}, stream_idle_timeout_s=10.0)
        _, tokens = new_user(gw)
        r = gw.get("/api/tips/v1/stream", headers=bearer(tokens))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.text == "data: first\n\ndata: second\n\n"
    finally:
        server.shutdown()


def test_the_services_own_date_and_server_headers_are_not_passed_on(gateway):
    # the gateway's server writes its own Date and Server: a service's, passed on too, doubled them on every answer
    # (this in-process client adds none of its own, so the service's would show here)
    _, tokens = new_user(gateway)
    r = gateway.get("/api/tips/v1/info", headers=bearer(tokens))
    assert r.status_code == 200
    assert r.headers.get_list("date") == [] and r.headers.get_list("server") == []
