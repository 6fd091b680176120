"""The browser's cookie session: httpOnly refresh cookie, double-submit CSRF on the routes a cookie authenticates,
Origin check, and the security headers (CSP without inline scripts) on the web client's files."""
from fastapi.testclient import TestClient

from conftest import new_user

PASSWORD = "correct horse battery"


def _web_login(gateway: TestClient, username: str):
    return gateway.post("/api/auth/web/login", json={"username": username, "password": PASSWORD})


def _fresh_client(gateway: TestClient) -> TestClient:
    """The shared client as a browser with an empty cookie jar."""
    gateway.cookies.clear()
    return gateway


def test_web_login_sets_httponly_refresh_cookie_and_csrf_cookie(gateway):
    username, _ = new_user(gateway)
    r = _web_login(gateway, username)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}  # no refresh token for page scripts
    cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
    assert "HttpOnly" in cookies["zx_refresh"] and "Path=/api/auth/web" in cookies["zx_refresh"]
    assert "samesite=strict" in cookies["zx_refresh"].lower()
    assert "HttpOnly" not in cookies["zx_csrf"] and "samesite=strict" in cookies["zx_csrf"].lower()
    me = gateway.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200


def test_refresh_needs_the_csrf_header_matching_the_cookie(gateway):
    browser = _fresh_client(gateway)
    username, _ = new_user(browser)
    assert _web_login(browser, username).status_code == 200
    csrf = browser.cookies.get("zx_csrf")
    # Cookie alone (what a cross-site form would send): refused, and the session survives.
    r = browser.post("/api/auth/web/refresh")
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = browser.post("/api/auth/web/refresh", headers={"X-CSRF-Token": "guessed"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = browser.post("/api/auth/web/refresh", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = browser.post("/api/auth/web/refresh", headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert browser.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # Rotated: a new CSRF token and refresh cookie each time.
    assert browser.cookies.get("zx_csrf") != csrf


def test_refresh_without_a_session_cookie_is_401(gateway):
    browser = _fresh_client(gateway)
    browser.cookies.set("zx_csrf", "abc")
    r = browser.post("/api/auth/web/refresh", headers={"X-CSRF-Token": "abc"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth_required"


def test_cross_site_login_is_refused(gateway):
    username, _ = new_user(gateway)
    r = gateway.post("/api/auth/web/login", json={"username": username, "password": PASSWORD},
                     headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = gateway.post("/api/auth/web/login", json={"username": username, "password": "wrong password"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"


def test_logout_revokes_the_cookie_session_and_clears_cookies(gateway):
    browser = _fresh_client(gateway)
    username, _ = new_user(browser)
    access = _web_login(browser, username).json()["access_token"]
    csrf = browser.cookies.get("zx_csrf")
    old_refresh = browser.cookies.get("zx_refresh")
    assert browser.post("/api/auth/web/logout").status_code == 403  # CSRF needed here too
    r = browser.post("/api/auth/web/logout", headers={"X-CSRF-Token": csrf, "Authorization": f"Bearer {access}"})
    assert r.status_code == 204
    assert browser.cookies.get("zx_refresh") is None
    # The old refresh token is dead even if someone kept a copy; so is the access token.
    r = gateway.post("/api/auth/refresh", json={"refresh_token": old_refresh})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    assert browser.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_web_client_is_served_with_a_strict_csp(gateway):
    r = gateway.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["script-src"] == ["'self'"] and directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    # The page itself has no inline script or inline handler, so the policy costs it nothing.
    html = r.text.lower()
    assert "<script>" not in html and " onclick=" not in html and "<script type=\"module\" src=" in html
    # The charting library installed by npm is served from the gateway too (no CDN).
    js = gateway.get("/vendor/uplot/uPlot.esm.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert gateway.get("/js/app.js").status_code == 200 and gateway.get("/app.css").status_code == 200
    # The page names its icon, so browsers do not ask for a missing /favicon.ico (a 404 on every load).
    assert '<link rel="icon" href="/favicon.svg"' in r.text
    icon = gateway.get("/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_admin_lists_users_and_patients_cannot(gateway, zx_env):
    gateway.cookies.clear()
    name, _ = new_user(gateway)
    _, patient = new_user(gateway)
    _, admin = new_user(gateway, role="admin", zx_env=zx_env)
    r = gateway.get("/api/auth/users", headers={"Authorization": f"Bearer {patient['access_token']}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = gateway.get("/api/auth/users", params={"q": name}, headers={"Authorization": f"Bearer {admin['access_token']}"})
    assert r.status_code == 200, r.text
    rows = r.json()["items"]
    assert [u["username"] for u in rows] == [name] and rows[0]["role"] == "patient" and rows[0]["wechat"] is False
    assert "password_hash" not in rows[0]
    r = gateway.get("/api/auth/users", params={"role": "nobody"}, headers={"Authorization": f"Bearer {admin['access_token']}"})
    assert r.status_code == 422
