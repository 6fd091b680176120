"""FHIR R4 views of our records (read-only interop): a session as a Schedule with one Slot per sequence number,
a booking as an Appointment. Patient identifiers never leave in these views; only the masked name does."""
from __future__ import annotations

from datetime import date
from typing import Any

_APPOINTMENT_STATUS = {"confirmed": "booked", "cancelled": "cancelled", "no_show": "noshow", "attended": "fulfilled"}


def _instant(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}:00+08:00"


def schedule_bundle(session: dict[str, Any], doctor: dict[str, Any], taken: set[int],
                    windows: list[tuple[str, str]]) -> dict[str, Any]:
    day = date.fromisoformat(session["date"])
    schedule_id = session["id"]
    entries: list[dict[str, Any]] = [{"resource": {
        "resourceType": "Schedule", "id": schedule_id, "active": session["status"] == "open",
        "serviceType": [{"coding": [{"system": "urn:zhenxi:department", "code": doctor["department"]["id"],
                                     "display": doctor["department"]["name"]}]}],
        "actor": [{"reference": f"Practitioner/{doctor['id']}", "display": doctor["name"]},
                  {"reference": f"Location/{doctor['hospital']['id']}", "display": doctor["hospital"]["name"]}],
        "planningHorizon": {"start": _instant(day, session["start"]), "end": _instant(day, session["end"])},
    }}]
    for seq, (start, end) in enumerate(windows, start=1):
        status = "busy" if seq in taken else ("free" if session["status"] == "open" else "busy-unavailable")
        entries.append({"resource": {
            "resourceType": "Slot", "id": f"{schedule_id}-{seq}", "schedule": {"reference": f"Schedule/{schedule_id}"},
            "status": status, "start": _instant(day, start), "end": _instant(day, end),
            "identifier": [{"system": "urn:zhenxi:sequence-number", "value": str(seq)}],
        }})
    return {"resourceType": "Bundle", "type": "collection", "total": len(entries), "entry": entries}


def appointment(booking: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(booking["date"])
    return {
        "resourceType": "Appointment", "id": booking["id"],
        "status": _APPOINTMENT_STATUS.get(booking["status"], "booked"),
        "serviceType": [{"coding": [{"system": "urn:zhenxi:department", "code": booking["department"]["id"],
                                     "display": booking["department"]["name"]}]}],
        "start": _instant(day, booking["window_start"]), "end": _instant(day, booking["window_end"]),
        "slot": [{"reference": f"Slot/{booking['session_id']}-{booking['seq_no']}"}],
        "created": booking["created_at"],
        "cancelationReason": ({"text": booking["cancel_reason"]} if booking["cancel_reason"] else None),
        "participant": [
            {"actor": {"display": booking["patient"]["name"]}, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{booking['doctor']['id']}", "display": booking["doctor"]["name"]},
             "status": "accepted"},
            {"actor": {"reference": f"Location/{booking['hospital']['id']}", "display": booking["hospital"]["name"]},
             "status": "accepted"},
        ],
    }
