"""Schedule expansion: a plan's schedule -> due instants (UTC) inside a window, with ``dateutil.rrule`` for the
recurrence and ``zoneinfo`` for the wall clock.

Times of day are wall times in the plan's zone: 08:00 stays 08:00 across daylight saving and after a change of
zone. A wall time that does not exist (the spring-forward gap) resolves with fold=0, i.e. it fires at the
equivalent instant just after the jump (02:30 -> 03:30); an ambiguous one (fall-back) fires once, at its first
occurrence. Every-N-hours schedules count real elapsed hours (UTC), which is what a dosing interval means.
Each due instant belongs to the patient's local date on which it was scheduled (``local_date``), so a 23:30 dose
taken at 00:10 is still that evening's dose."""
from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, HOURLY, rrule

from .schemas import MealTimes, Schedule

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MEAL_OF = {"M": "breakfast", "D": "lunch", "V": "dinner"}


@dataclass(frozen=True)
class Due:
    at: datetime        # UTC
    local_date: date


def _hhmm(s: str) -> time:
    h, m = s.split(":")
    return time(int(h), int(m))


def _shift(t: time, minutes: int) -> tuple[time, int]:
    """t + minutes -> (time, day offset): 'before breakfast 30 min' at 00:10 falls on the previous day."""
    total = t.hour * 60 + t.minute + minutes
    days, rem = divmod(total, 24 * 60)
    return time(rem // 60, rem % 60), days


def wall_times(schedule: Schedule, meals: MealTimes) -> list[tuple[time, int]]:
    """Daily wall times (and a day offset) of a times/meals schedule."""
    if schedule.kind == "times":
        return sorted({(_hhmm(t), 0) for t in schedule.times_of_day or []})
    out: set[tuple[time, int]] = set()
    off = schedule.offset_min
    for code in schedule.when or []:
        if code == "HS":
            # Going to bed after midnight (sleep 00:30, wake 07:00) is still the evening of the day before.
            t, days = _shift(_hhmm(meals.sleep), -off)
            out.add((t, days + (1 if _hhmm(meals.sleep) < _hhmm(meals.wake) else 0)))
        elif code == "WAKE":
            out.add(_shift(_hhmm(meals.wake), off))
        else:
            prefix, suffix = (code[:2], code[2:]) if code[:2] in ("AC", "PC") else (code[:1], code[1:])
            sign = {"AC": -1, "PC": 1, "C": 0}[prefix]
            for letter in (suffix or "MDV"):
                out.add(_shift(_hhmm(getattr(meals, _MEAL_OF[letter])), sign * off))
    return sorted(out)


def _day_ok(d: date, schedule: Schedule, start: date) -> bool:
    if schedule.days_of_week and d.weekday() not in {_WEEKDAYS[w] for w in schedule.days_of_week}:
        return False
    if schedule.cycle:
        period = schedule.cycle.on_days + schedule.cycle.off_days
        if (d - start).days % period >= schedule.cycle.on_days:
            return False
    return True


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    aware = naive.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC)


def series(schedule: Schedule, meals: MealTimes, zone_name: str, start: date, end: date | None,
           anchor_utc: datetime | None = None, skip_to: datetime | None = None) -> Iterator[Due]:
    """Every due instant of the plan from its start, in order (lazy; callers bound it). ``skip_to`` lets an
    uncounted series start near a window instead of walking from a start date years back."""
    zone = ZoneInfo(zone_name)
    until = datetime.combine(end, time(23, 59, 59)) if end else None
    if schedule.kind in ("times", "meals"):
        first = max(start, (skip_to - timedelta(days=2)).date()) if skip_to else start
        streams = []
        for t, day_off in wall_times(schedule, meals):
            rule = rrule(DAILY, dtstart=datetime.combine(first, t), until=until and until - timedelta(days=day_off))
            streams.append(((dt + timedelta(days=day_off), dt.date()) for dt in rule))
        for local, sched_day in heapq.merge(*streams, key=lambda p: p[0]):
            if _day_ok(sched_day, schedule, start):
                yield Due(_localize(local, zone), sched_day)
    elif schedule.kind == "interval":
        step = timedelta(hours=schedule.every_hours or 24)
        if anchor_utc is None:
            anchor_utc = _localize(datetime.combine(start, _hhmm(schedule.anchor or "08:00")), zone)
        if skip_to is not None and skip_to - anchor_utc > step:
            anchor_utc += step * ((skip_to - anchor_utc) // step - 1)
        until_utc = _localize(until, zone) if until else None
        # rrule counts whole hours; sub-hour remainders (every 1.5 h) go through minutes.
        minutes = int(round(step.total_seconds() / 60))
        from dateutil.rrule import MINUTELY
        freq, interval = (HOURLY, minutes // 60) if minutes % 60 == 0 else (MINUTELY, minutes)
        naive_anchor = anchor_utc.astimezone(UTC).replace(tzinfo=None)
        rule = rrule(freq, interval=interval, dtstart=naive_anchor,
                     until=until_utc.replace(tzinfo=None) if until_utc else None)
        for dt in rule:
            at = dt.replace(tzinfo=UTC)
            day = at.astimezone(zone).date()
            if _day_ok(day, schedule, start):
                yield Due(at, day)
    elif schedule.kind == "once":
        assert schedule.at is not None
        local = schedule.at.replace(tzinfo=None)
        yield Due(_localize(local, zone), local.date())
    # prn: nothing is scheduled


def expand(schedule: Schedule, meals: MealTimes, zone_name: str, start: date, end: date | None,
           total_count: int | None, window_from: datetime, window_to: datetime,
           anchor_utc: datetime | None = None, limit: int = 100_000) -> list[Due]:
    """Due instants in [window_from, window_to), honouring the plan's total count (counted from its start)."""
    out: list[Due] = []
    if total_count is not None:
        it = islice(series(schedule, meals, zone_name, start, end, anchor_utc), total_count)
    else:
        it = series(schedule, meals, zone_name, start, end, anchor_utc, skip_to=window_from)
    for due in it:
        if due.at >= window_to or len(out) >= limit:
            break
        if due.at >= window_from:
            out.append(due)
    return out


def doses_per_day(schedule: Schedule, meals: MealTimes) -> float | None:
    """Average scheduled doses per day (for refill forecasts); None for as-needed or one-off plans."""
    if schedule.kind in ("times", "meals"):
        per_day = float(len(wall_times(schedule, meals)))
    elif schedule.kind == "interval":
        per_day = 24.0 / (schedule.every_hours or 24)
    else:
        return None
    if schedule.days_of_week:
        per_day *= len(set(schedule.days_of_week)) / 7
    if schedule.cycle:
        per_day *= schedule.cycle.on_days / (schedule.cycle.on_days + schedule.cycle.off_days)
    return per_day


def interval_hours(schedule: Schedule, meals: MealTimes) -> float | None:
    """The usual gap between doses, for missed-dose advice."""
    if schedule.kind == "interval":
        return schedule.every_hours
    if schedule.kind == "prn":
        return schedule.min_interval_hours
    per_day = doses_per_day(schedule, meals)
    return 24.0 / per_day if per_day else None
