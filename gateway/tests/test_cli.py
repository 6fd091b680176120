from app.cli import main
from conftest import bearer


def test_create_first_admin_from_the_command_line(gateway, monkeypatch, capsys):
    monkeypatch.setenv("ZHENXI_PASSWORD", "admin-password-1")
    assert main(["root_admin", "--role", "admin"]) == 0
    tokens = gateway.post("/api/auth/login", json={"username": "root_admin", "password": "admin-password-1"}).json()
    assert gateway.get("/api/auth/me", headers=bearer(tokens)).json()["role"] == "admin"
    assert main(["root_admin"]) == 2  # duplicate
    assert "username_taken" in capsys.readouterr().out
    monkeypatch.setenv("ZHENXI_PASSWORD", "short")
    assert main(["another_admin"]) == 2


def test_create_user_without_role_makes_a_patient(gateway, monkeypatch, capsys):
    """README: ``create-user NAME [--role admin]`` — leaving the flag out must not hand out admin rights."""
    monkeypatch.setenv("ZHENXI_PASSWORD", "patient-password-1")
    assert main(["plain_patient"]) == 0
    assert '"role": "patient"' in capsys.readouterr().out
    tokens = gateway.post("/api/auth/login", json={"username": "plain_patient", "password": "patient-password-1"}).json()
    assert gateway.get("/api/auth/me", headers=bearer(tokens)).json()["role"] == "patient"
