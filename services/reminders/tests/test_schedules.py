"""Expansion across daylight saving, zone changes and midnight (pure functions, no stores)."""
from datetime import UTC, date, datetime, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

import pytest

from app.schedules import doses_per_day, expand
from app.schemas import MealTimes, Schedule

NY = ZoneInfo("America/New_York")
W0, W1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


def run(schedule: dict, zone: str, start: date, days: int, **kw):
    t0 = datetime.combine(start, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    return expand(Schedule.model_validate(schedule), MealTimes(), zone, start, kw.pop("end", None),
                  kw.pop("total", None), t0, t0 + timedelta(days=days + 2), **kw)


def test_fixed_times_keep_the_wall_clock_across_spring_forward():
    dues = run({"kind": "times", "times_of_day": ["08:00"]}, "America/New_York", date(2026, 3, 6), 5)
    local = [d.at.astimezone(NY) for d in dues]
    assert all(t.hour == 8 and t.minute == 0 for t in local)
    # 13:00 UTC in EST, 12:00 UTC in EDT: the UTC instant moves, the wall time does not
    assert {d.at.hour for d in dues} == {12, 13}


def test_gap_time_fires_once_just_after_the_jump():
    dues = run({"kind": "times", "times_of_day": ["02:30"]}, "America/New_York", date(2026, 3, 7), 3)
    on_day = [d for d in dues if d.local_date == date(2026, 3, 8)]
    assert len(on_day) == 1 and on_day[0].at.astimezone(NY).strftime("%H:%M") == "03:30"


def test_ambiguous_time_fires_once_on_fall_back():
    dues = run({"kind": "times", "times_of_day": ["01:30"]}, "America/New_York", date(2026, 10, 31), 3)
    assert len([d for d in dues if d.local_date == date(2026, 11, 1)]) == 1


def test_every_n_hours_counts_real_hours_across_dst():
    dues = run({"kind": "interval", "every_hours": 8, "anchor": "06:00"}, "Europe/Berlin", date(2026, 10, 24), 3)
    gaps = {(b.at - a.at) for a, b in zip(dues, dues[1:])}
    assert gaps == {timedelta(hours=8)}


def test_times_across_midnight_belong_to_their_scheduled_day():
    sh = ZoneInfo("Asia/Shanghai")
    # 30 min before a 00:10 breakfast is 23:40 the evening before, but it is the next day's breakfast dose
    dues = expand(Schedule.model_validate({"kind": "meals", "when": ["ACM"], "offset_min": 30}),
                  MealTimes(breakfast="00:10"), "Asia/Shanghai", date(2026, 5, 1), None, 2, W0, W1)
    assert [(d.at.astimezone(sh).strftime("%m-%d %H:%M"), d.local_date) for d in dues] == [
        ("04-30 23:40", date(2026, 5, 1)), ("05-01 23:40", date(2026, 5, 2))]
    # bedtime at 00:20 (after midnight, before waking) is the evening of the scheduled day
    dues = expand(Schedule.model_validate({"kind": "meals", "when": ["HS"]}), MealTimes(sleep="00:20"),
                  "Asia/Shanghai", date(2026, 5, 1), None, 1, W0, W1)
    assert dues[0].local_date == date(2026, 5, 1)
    assert dues[0].at.astimezone(sh).strftime("%m-%d %H:%M") == "05-02 00:20"


def test_meal_relative_times_use_the_patients_meals():
    dues = expand(Schedule.model_validate({"kind": "meals", "when": ["ACM", "PCV"], "offset_min": 30}),
                  MealTimes(breakfast="07:00", dinner="18:00"), "Asia/Shanghai", date(2026, 5, 1), date(2026, 5, 1),
                  None, W0, W1)
    assert [d.at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") for d in dues] == ["06:30", "18:30"]


def test_weekdays_cycles_counts_and_once():
    dues = run({"kind": "times", "times_of_day": ["09:00"], "days_of_week": ["mon", "thu"]}, "UTC",
               date(2026, 6, 1), 14)
    assert {d.local_date.weekday() for d in dues} == {0, 3}
    dues = run({"kind": "times", "times_of_day": ["09:00"], "cycle": {"on_days": 21, "off_days": 7}}, "UTC",
               date(2026, 6, 1), 56)
    days = {d.local_date for d in dues}
    assert date(2026, 6, 21) in days and date(2026, 6, 22) not in days and date(2026, 6, 29) in days
    assert len(run({"kind": "times", "times_of_day": ["08:00", "20:00"]}, "UTC", date(2026, 6, 1), 30,
                   total=5)) == 5
    once = run({"kind": "once", "at": "2026-06-02T10:15:00"}, "Asia/Shanghai", date(2026, 6, 1), 5)
    assert [d.at for d in once] == [datetime(2026, 6, 2, 2, 15, tzinfo=UTC)]
    assert run({"kind": "prn", "min_interval_hours": 6}, "UTC", date(2026, 6, 1), 5) == []


@pytest.mark.parametrize("schedule,per_day", [
    ({"kind": "times", "times_of_day": ["08:00", "20:00"]}, 2),
    ({"kind": "interval", "every_hours": 6}, 4),
    ({"kind": "times", "times_of_day": ["08:00"], "cycle": {"on_days": 21, "off_days": 7}}, 0.75),
    ({"kind": "prn", "min_interval_hours": 4}, None),
])
def test_doses_per_day(schedule, per_day):
    assert doses_per_day(Schedule.model_validate(schedule), MealTimes()) == per_day


@pytest.mark.parametrize("schedule", [
    {"kind": "interval", "every_hours": 7, "anchor": "06:30"},
    {"kind": "times", "times_of_day": ["07:00", "23:45"], "cycle": {"on_days": 21, "off_days": 7}},
    {"kind": "meals", "when": ["ACM", "HS"], "offset_min": 30, "days_of_week": ["mon", "wed"]},
])
def test_a_plan_started_years_ago_expands_the_same_near_now(schedule):
    from app.schedules import series
    sched = Schedule.model_validate(schedule)
    w0, w1 = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC)
    fast = expand(sched, MealTimes(), "Europe/Berlin", date(2016, 5, 3), None, None, w0, w1)
    slow = list(takewhile(lambda d: d.at < w1, series(sched, MealTimes(), "Europe/Berlin", date(2016, 5, 3), None)))
    assert fast and fast == [d for d in slow if d.at >= w0]
