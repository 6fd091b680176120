from conftest import bearer, new_user, sql


def test_register_login_and_me(gateway, zx_env):
    r = gateway.post("/api/auth/register", json={"username": "Alice_1", "password": "s3cret-enough"})
    assert r.status_code == 201, r.text
    assert r.json()["username"] == "alice_1" and r.json()["role"] == "patient"
    tokens = gateway.post("/api/auth/login", json={"username": "alice_1", "password": "s3cret-enough"}).json()
    assert set(tokens) >= {"access_token", "refresh_token"}
    me = gateway.get("/api/auth/me", headers=bearer(tokens)).json()
    assert me["user_id"] == r.json()["id"] and me["role"] == "patient"
    stored = sql(zx_env, "SELECT password_hash FROM gateway.users WHERE username='alice_1'")[0][0]
    assert stored.startswith("$argon2id$") and "s3cret" not in stored


def test_duplicate_username_is_409(gateway):
    body = {"username": "dup_user", "password": "long-enough-pw"}
    assert gateway.post("/api/auth/register", json=body).status_code == 201
    r = gateway.post("/api/auth/register", json={**body, "username": "DUP_user"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "username_taken"


def test_bad_registration_input_is_422(gateway):
    for body in ({"username": "ab", "password": "long-enough-pw"},
                 {"username": "bad name!", "password": "long-enough-pw"},
                 {"username": "okname", "password": "short"},
                 {"username": 12345, "password": ["x"]}):
        r = gateway.post("/api/auth/register", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", body
    r = gateway.post("/api/auth/register", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_wrong_password_is_401(gateway):
    username, _ = new_user(gateway)
    r = gateway.post("/api/auth/login", json={"username": username, "password": "wrong password"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = gateway.post("/api/auth/login", json={"username": "nobody-here", "password": "wrong password"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"


def test_bad_tokens_are_401(gateway):
    assert gateway.get("/api/auth/me").json()["error"]["code"] == "auth_required"
    for token in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."):
        r = gateway.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"
    _, tokens = new_user(gateway)
    # A refresh token cannot stand in for an access token.
    r = gateway.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"


def test_refresh_rotates_and_reuse_revokes_the_session(gateway):
    _, tokens = new_user(gateway)
    first = gateway.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    new = first.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    replay = gateway.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "refresh_token_reused"
    # The thief's replay ends the whole family, including the legitimately rotated token.
    r = gateway.post("/api/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"


def test_logout_revokes_refresh_and_access(gateway):
    _, tokens = new_user(gateway)
    assert gateway.get("/api/auth/me", headers=bearer(tokens)).status_code == 200
    r = gateway.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens))
    assert r.status_code == 204
    replay = gateway.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "token_revoked"
    r = gateway.get("/api/auth/me", headers=bearer(tokens))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    r = gateway.get("/api/tips/v1/info", headers=bearer(tokens))
    assert r.status_code == 401


def test_roles_and_api_keys(gateway, zx_env):
    _, patient = new_user(gateway)
    r = gateway.post("/api/auth/api-keys", json={"username": "x", "name": "k", "scopes": ["tips"]},
                     headers=bearer(patient))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    _, admin = new_user(gateway, role="admin", zx_env=zx_env)
    integrator, _ = new_user(gateway)
    r = gateway.post("/api/auth/api-keys", json={"username": integrator, "name": "his", "scopes": ["tips"]},
                     headers=bearer(admin))
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_integrator"
    r = gateway.put(f"/api/auth/users/{integrator}/role", json={"role": "integrator"}, headers=bearer(admin))
    assert r.status_code == 200 and r.json()["role"] == "integrator"
    r = gateway.post("/api/auth/api-keys", json={"username": integrator, "name": "his", "scopes": ["nope"]},
                     headers=bearer(admin))
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_scope"

    key = gateway.post("/api/auth/api-keys", json={"username": integrator, "name": "his", "scopes": ["tips"]},
                       headers=bearer(admin)).json()
    stored = sql(zx_env, "SELECT key_sha256 FROM gateway.api_keys WHERE id=$1::uuid", key["id"])[0][0]
    assert key["key"] not in stored
    r = gateway.get("/api/tips/v1/info", headers={"X-API-Key": key["key"]})
    assert r.status_code == 200 and r.json()["caller"]["role"] == "integrator"
    r = gateway.get("/api/ocr/v1/info", headers={"X-API-Key": key["key"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_missing"
    assert gateway.get("/api/tips/v1/info", headers={"X-API-Key": "zxk_forged"}).status_code == 401

    assert gateway.delete(f"/api/auth/api-keys/{key['id']}", headers=bearer(admin)).status_code == 204
    r = gateway.get("/api/tips/v1/info", headers={"X-API-Key": key["key"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "api_key_invalid"
