"""Rate limits without a boundary burst, and a per-account slow-down of password guessing that does not lock the
real user out (issue #11, point 5). Real Redis and Postgres."""
import time

from conftest import bearer, new_user

PASSWORD = "correct horse battery"


def test_no_burst_across_a_window_boundary(make_gateway):
    """A fixed window lets ``limit`` requests through again the moment a new window starts, even right after a
    full one. A moving window counts every request of the last ``window_s`` seconds."""
    gw = make_gateway(rate_limit_per_user=3, rate_limit_window_s=4)
    _, tokens = new_user(gw)
    get = lambda: gw.get("/api/tips/v1/info", headers=bearer(tokens)).status_code  # noqa: E731
    t0 = time.monotonic()
    assert get() == 200
    time.sleep(2.5)
    assert [get(), get()] == [200, 200]
    time.sleep(max(0.0, t0 + 4.6 - time.monotonic()))
    # The first request has left the last 4 s; the two made 2 s ago have not: one more fits, not three.
    assert [get(), get(), get()] == [200, 429, 429]


def test_failed_logins_slow_the_account_down(make_gateway):
    gw = make_gateway(login_free_failures=3, login_backoff_base_s=30, client=("127.0.0.1", 5000),
                      trusted_proxies="127.0.0.1")
    username, _ = new_user(gw)
    attacker = {"X-Forwarded-For": "198.51.100.66"}
    wrong = {"username": username, "password": "not-it-at-all"}
    codes = [gw.post("/api/auth/login", json=wrong, headers=attacker).status_code for _ in range(6)]
    # Three free failures, then one attempt per (30 s) gate: the fifth and sixth wait.
    assert codes == [401, 401, 401, 401, 429, 429]
    r = gw.post("/api/auth/login", json=wrong, headers=attacker)
    assert r.json()["error"]["code"] == "login_backoff"
    assert 1 <= int(r.headers["retry-after"]) <= 30
    # Even the right password waits from a client the account has never logged in from (slowed, not locked).
    stranger = gw.post("/api/auth/login", json={"username": username, "password": PASSWORD},
                       headers={"X-Forwarded-For": "198.51.100.67"})
    assert stranger.status_code == 429


def test_an_attacker_cannot_lock_out_the_real_user(make_gateway):
    gw = make_gateway(login_free_failures=2, login_backoff_base_s=30, client=("127.0.0.1", 5000),
                      trusted_proxies="127.0.0.1")
    username, _ = new_user(gw)  # registered and logged in once from 127.0.0.1 (no forwarding header)
    home = {"X-Forwarded-For": "192.0.2.10"}
    right = {"username": username, "password": PASSWORD}
    assert gw.post("/api/auth/login", json=right, headers=home).status_code == 200
    wrong = {"username": username, "password": "guess-guess"}
    attacker = {"X-Forwarded-For": "198.51.100.66"}
    codes = [gw.post("/api/auth/login", json=wrong, headers=attacker).status_code for _ in range(5)]
    assert codes[-1] == 429
    # The real user, from where they logged in before, is not slowed by the attacker's failures.
    r = gw.post("/api/auth/login", json=right, headers=home)
    assert r.status_code == 200, r.text
    assert gw.get("/api/auth/me", headers=bearer(r.json())).status_code == 200
    # And their own typo does not wait on the attacker's gate either.
    assert gw.post("/api/auth/login", json=wrong, headers=home).status_code == 401


def test_a_successful_login_clears_the_count(make_gateway):
    gw = make_gateway(login_free_failures=2, login_backoff_base_s=30)
    username, _ = new_user(gw)
    wrong = {"username": username, "password": "nope-nope-nope"}
    right = {"username": username, "password": PASSWORD}
    assert [gw.post("/api/auth/login", json=wrong).status_code for _ in range(2)] == [401, 401]
    assert gw.post("/api/auth/login", json=right).status_code == 200
    assert [gw.post("/api/auth/login", json=wrong).status_code for _ in range(2)] == [401, 401]
