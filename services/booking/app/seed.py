"""The development catalogue: a few hospitals, about 20 departments and 150 doctors with sessions for the coming
week. Only for ZHENXI_ENV=dev, and only into an empty catalogue."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select, text

from .models import Doctor, Hospital
from .search_text import document_tokens
from .base import PERIODS
from .service import BookingService

SEED_FILE = Path(__file__).with_name("seed_catalogue.yaml")


class SeedRefused(RuntimeError):
    pass


async def seed_catalogue(svc: BookingService, *, days: int = 7, force_env: bool = False) -> dict[str, int]:
    if svc.settings.env != "dev" and not force_env:
        raise SeedRefused(f"the dev catalogue is never loaded with ZHENXI_ENV={svc.settings.env!r}")
    data = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    rng = random.Random(114)
    async with svc.tx() as s:
        # Several workers start at once: one seeds, the others wait here and then find the catalogue full.
        await s.execute(text("SELECT pg_advisory_xact_lock(114000)"))
        if (await s.execute(select(func.count()).select_from(Hospital))).scalar_one():
            return {"hospitals": 0, "doctors": 0, "sessions": 0}
        hospitals = [Hospital(id=uuid.uuid4(), provider="local", **h) for h in data["hospitals"]]
        s.add_all(hospitals)
        await s.flush()
        dept_ids = list(data["departments"])
        for d in dept_ids:
            svc.department(d)  # every seed department must exist in the taxonomy
        doctors, used = [], set()
        for i in range(int(data["doctors"])):
            dep = dept_ids[i % len(dept_ids)]
            hosp = hospitals[rng.randrange(len(hospitals))]
            while True:
                name = rng.choice(data["surnames"]) + rng.choice(data["given"])
                if name not in used:
                    used.add(name)
                    break
            specs = rng.sample(data["departments"][dep], k=min(3, len(data["departments"][dep])))
            title = rng.choices(data["titles"], weights=[2, 3, 4, 2])[0]
            bio = rng.choice(data["bios"]).format(years=rng.randint(4, 32), spec1=specs[0], spec2=specs[1],
                                                  hospital=hosp.name, dept=svc.departments[dep].name)
            doctors.append(Doctor(id=uuid.uuid4(), hospital_id=hosp.id, department_id=dep, name=name, title=title,
                                  specialties=specs, bio=bio, photo_url=f"https://static.zhenxi.example/doctors/{i}.jpg",
                                  search_tokens=document_tokens(name, specs, bio)))
        s.add_all(doctors)
        await s.flush()
        n_sessions = 0
        start = svc.today() + timedelta(days=1)
        for doc in doctors:
            fee = {"主任医师": 10000, "副主任医师": 6000, "主治医师": 5000, "住院医师": 5000}[doc.title]
            for offset in rng.sample(range(days), k=3):
                period = rng.choice(PERIODS[:2])
                cap = rng.choice([10, 20, 30])
                if await svc._insert_session(s, doc.id, start + timedelta(days=offset), period, cap, fee):
                    n_sessions += 1
    return {"hospitals": len(hospitals), "doctors": len(doctors), "sessions": n_sessions}
