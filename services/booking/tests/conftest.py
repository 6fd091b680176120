import itertools
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from zhenxi_common.testing import signed

ADMIN = signed("admin-1", role="admin")
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def client(zx_env):
    from app.main import create_app
    from app.seed import seed_catalogue

    with TestClient(create_app()) as c:
        # The dev catalogue is loaded into the test database too (explicitly: ZHENXI_ENV is "test" here).
        c.portal.call(lambda: seed_catalogue(c.app.state.booking, force_env=True))
        yield c


@pytest.fixture()
def svc(client):
    return client.app.state.booking


@pytest.fixture()
def clock(svc):
    """Move the service's clock; restored after the test."""
    original = svc.clock

    class Clock:
        def set(self, when: datetime) -> None:
            svc.clock = lambda: when

    yield Clock()
    svc.clock = original


def make_id_number(birth: str = "19900307", region: str = "110101") -> str:
    from app.personal_data import gb11643_check_char

    first17 = f"{region}{birth}{next(_counter) % 1000:03d}"
    return first17 + gb11643_check_char(first17)


def make_phone() -> str:
    return f"138{next(_counter) % 10**8:08d}"


def make_patient(**overrides) -> dict:
    return {"name": "张三丰", "id_number": make_id_number(), "phone": make_phone(), **overrides}


def make_hospital(client, **overrides) -> dict:
    body = {"name": f"测试医院{uuid.uuid4().hex[:8]}", "city": "滨江", "address": "测试路1号", "level": "三级甲等",
            **overrides}
    r = client.post("/v1/admin/hospitals", json=body, auth=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def make_doctor(client, hospital_id: str | None = None, **overrides) -> dict:
    hospital_id = hospital_id or make_hospital(client)["id"]
    body = {"hospital_id": hospital_id, "department_id": "cardiology", "name": "测试医生", "title": "主治医师",
            "specialties": ["高血压"], "bio": "测试用医生。", **overrides}
    r = client.post("/v1/admin/doctors", json=body, auth=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def make_session(client, doctor_id: str | None = None, days_ahead: int = 3, **overrides) -> dict:
    doctor_id = doctor_id or make_doctor(client)["id"]
    today = client.app.state.booking.today()
    body = {"doctor_id": doctor_id, "date": (today + timedelta(days=days_ahead)).isoformat(),
            "period": "morning", "capacity": 5, "fee": 50, **overrides}
    r = client.post("/v1/admin/sessions", json=body, auth=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def hold(client, session_id: str, user: str = "patient-1"):
    return client.post("/v1/holds", json={"session_id": session_id}, auth=signed(user))


def book(client, session_id: str, user: str = "patient-1", patient: dict | None = None, key: str | None = None):
    h = hold(client, session_id, user)
    assert h.status_code == 201, h.text
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/v1/bookings", json={"hold_id": h.json()["id"], "patient": patient or make_patient()},
                       headers=headers, auth=signed(user))

