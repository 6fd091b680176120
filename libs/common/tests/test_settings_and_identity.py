import pytest

from zhenxi_common.identity import (GatewayRequiredError, GatewaySignatureError, Identity, sign_headers,
                                    verify_headers)
from zhenxi_common.settings import BaseServiceSettings, PlaceholderSecretError


def test_placeholder_secrets_refused_outside_dev(monkeypatch):
    monkeypatch.setenv("ZHENXI_ENV", "prod")
    monkeypatch.delenv("INTERNAL_SIGNING_KEY", raising=False)
    with pytest.raises(PlaceholderSecretError):
        BaseServiceSettings()
    monkeypatch.setenv("INTERNAL_SIGNING_KEY", "short")
    with pytest.raises(PlaceholderSecretError):
        BaseServiceSettings()
    monkeypatch.setenv("INTERNAL_SIGNING_KEY", "k" * 48)
    assert BaseServiceSettings().env == "prod"


def test_placeholder_secrets_allowed_in_dev(monkeypatch):
    monkeypatch.setenv("ZHENXI_ENV", "dev")
    monkeypatch.delenv("INTERNAL_SIGNING_KEY", raising=False)
    assert BaseServiceSettings().internal_signing_key


def test_identity_roundtrip_and_tamper():
    ident = Identity(user_id="u1", role="patient", scopes=("ocr",), via="api_key")
    h = sign_headers("key", ident, "POST", "/v1/x?a=1", now=1000)
    assert verify_headers("key", h, "POST", "/v1/x?a=1", 60, now=1010) == ident
    with pytest.raises(GatewaySignatureError):
        verify_headers("other-key", h, "POST", "/v1/x?a=1", 60, now=1010)
    with pytest.raises(GatewaySignatureError):
        verify_headers("key", h, "GET", "/v1/x?a=1", 60, now=1010)
    with pytest.raises(GatewaySignatureError):  # replayed too late
        verify_headers("key", h, "POST", "/v1/x?a=1", 60, now=1100)
    elevated = dict(h, **{"x-zhenxi-identity": Identity("u1", "admin").to_header()})
    with pytest.raises(GatewaySignatureError):
        verify_headers("key", elevated, "POST", "/v1/x?a=1", 60, now=1010)
    with pytest.raises(GatewayRequiredError):
        verify_headers("key", {}, "POST", "/v1/x", 60)
