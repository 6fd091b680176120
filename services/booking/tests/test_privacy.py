"""Personal data: encrypted at rest (nothing in any table holds the plaintext), masked in responses, never logged,
no MD5 anywhere in the service."""
import io
import logging
from pathlib import Path

from sqlalchemy import text

from zhenxi_common.testing import signed

from .conftest import ADMIN, book, hold, make_patient, make_session


def _capture_logs():
    """A second handler on the root logger with the service's own JSON formatter (extras included)."""
    root = logging.getLogger()
    ours = next(h for h in root.handlers if getattr(h, "_zhenxi", False))
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(ours.formatter)
    for f in ours.filters:
        handler.addFilter(f)
    root.addHandler(handler)
    return buf, handler


def test_plaintext_is_nowhere_in_the_database_and_nowhere_in_the_logs(client, svc):
    patient = make_patient(name="欧阳明远")
    logging.getLogger().setLevel(logging.DEBUG)
    buf, handler = _capture_logs()
    try:
        s = make_session(client, capacity=3)
        r = book(client, s["id"], "pia", patient, key="k-privacy")
        assert r.status_code == 201
        b = r.json()
        texts = [r.text]
        texts.append(client.get(f"/v1/bookings/{b['id']}", auth=signed("pia")).text)
        texts.append(client.get(f"/v1/bookings/{b['id']}/voucher", auth=signed("pia")).text)
        texts.append(client.get("/v1/bookings", auth=signed("pia")).text)
        texts.append(client.get(f"/v1/admin/bookings/{b['id']}", auth=ADMIN).text)
        texts.append(client.post("/v1/admin/bookings:lookup", json={"phone": patient["phone"]}, auth=ADMIN).text)
        # failures that carry the data in the request must not echo or log it either
        h = hold(client, make_session(client)["id"], "pia").json()
        bad = {**patient, "id_number": patient["id_number"][:-1] + ("0" if patient["id_number"][-1] != "0" else "1")}
        texts.append(client.post("/v1/bookings", json={"hold_id": h["id"], "patient": bad}, auth=signed("pia")).text)
        texts.append(client.post("/v1/bookings", json={"hold_id": h["id"], "patient": {**patient, "x": 1}},
                                 auth=signed("pia")).text)
        texts.append(client.post(f"/v1/bookings/{b['id']}:cancel", auth=signed("pia")).text)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
    secrets_ = [patient["id_number"], patient["phone"], patient["name"], bad["id_number"]]
    for t in texts:
        for sec in secrets_:
            assert sec not in t
    logs = buf.getvalue()
    assert "/v1/bookings" in logs  # the capture did see the requests
    for sec in secrets_:
        assert sec not in logs

    async def dump() -> str:
        async with svc.tx() as db:
            tables = (await db.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'booking'"))).scalars().all()
            out = []
            for t in tables:
                rows = (await db.execute(text(f'SELECT row_to_json(x)::text FROM booking."{t}" x'))).scalars().all()
                out.extend(rows)
            return "\n".join(out)

    everything = client.portal.call(dump)
    assert b["id"] in everything  # the dump does cover the booking
    for sec in secrets_:
        assert sec not in everything
        assert sec.encode().hex() not in everything  # not as raw bytes either


def test_no_md5_in_the_service():
    app_dir = Path(__file__).resolve().parents[1] / "app"
    for path in app_dir.rglob("*.py"):
        assert "md5" not in path.read_text(encoding="utf-8").lower(), path
