"""EventBridge schedule expressions: rate(value unit) and AWS's six-field cron(...), in UTC.

AWS's cron differs from Unix cron: six fields (minutes hours day-of-month month day-of-week
year), days of the week numbered 1 (SUN) to 7 (SAT), and exactly one of the two day fields must
be "?". croniter does the matching once the expression is translated into its dialect (days of
the week 0 to 6, "6L" as "L5", "?" as "*"); the year field is checked here.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from croniter import croniter

INVALID = "Parameter ScheduleExpression is not valid."

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_YEAR_RANGE = (1970, 2199)


class InvalidSchedule(ValueError):
    """An expression AWS would refuse (PutRule answers ValidationException with INVALID)."""


@dataclass(frozen=True)
class RateSchedule:
    period_s: int

    def first_after(self, created_at: float) -> float:
        """One period after the rule is created or enabled."""
        return created_at + self.period_s

    def next_after(self, fired_at: float) -> float | None:
        return fired_at + self.period_s


@dataclass(frozen=True)
class CronSchedule:
    unix_expression: str  # five fields in croniter's dialect
    years: str  # AWS's year field, checked here

    def first_after(self, created_at: float) -> float | None:
        return self.next_after(created_at)

    def next_after(self, moment: float) -> float | None:
        """The first matching minute strictly after `moment`, or None once the years have run out."""
        base = datetime.fromtimestamp(moment, timezone.utc)
        for _ in range(400):  # each round either matches or jumps to the next allowed year
            candidate = croniter(self.unix_expression, base).get_next(datetime)
            if _year_allowed(self.years, candidate.year):
                return candidate.timestamp()
            following = _next_allowed_year(self.years, candidate.year)
            if following is None:
                return None
            base = datetime(following, 1, 1, tzinfo=timezone.utc) - timedelta(seconds=1)
        return None


Schedule = RateSchedule | CronSchedule


def parse(expression: str) -> Schedule:
    """The schedule of a ScheduleExpression; InvalidSchedule for what AWS refuses."""
    text = (expression or "").strip()
    if text.startswith("rate("):
        return _parse_rate(text)
    if text.startswith("cron(") and text.endswith(")"):
        return _parse_cron(text[5:-1])
    raise InvalidSchedule(INVALID)


def _parse_rate(text: str) -> RateSchedule:
    match = _RATE.match(text)
    if not match:
        raise InvalidSchedule(INVALID)
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):  # rate(1 minute), rate(5 minutes)
        raise InvalidSchedule(INVALID)
    return RateSchedule(value * _UNIT_SECONDS[unit.rstrip("s")])


def _parse_cron(body: str) -> CronSchedule:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidSchedule(INVALID)
    minutes, hours, day_of_month, month, day_of_week, years = fields
    if (day_of_month == "?") == (day_of_week == "?"):  # exactly one of the day fields is "?"
        raise InvalidSchedule(INVALID)
    if "?" in (minutes + hours + month + years) or not _years_valid(years):
        raise InvalidSchedule(INVALID)
    if "W" in day_of_week.upper() or "#" in day_of_month:
        raise InvalidSchedule(INVALID)
    unix = " ".join([minutes, hours, "*" if day_of_month == "?" else day_of_month, month,
                     "*" if day_of_week == "?" else _unix_day_of_week(day_of_week)])
    try:
        valid = croniter.is_valid(unix)
    except Exception:
        valid = False
    if not valid:
        raise InvalidSchedule(INVALID)
    return CronSchedule(unix, years)


def _unix_day_of_week(field: str) -> str:
    """AWS numbers days 1 (SUN) to 7 (SAT); croniter 0 to 6. "6L" (last Friday) is croniter's "L5"."""
    parts = []
    for part in field.split(","):
        upper = part.upper()
        if upper == "L":
            parts.append("6")  # the last day of the week: Saturday
        elif re.fullmatch(r"\d+L", upper):
            parts.append(f"L{_shift_day(upper[:-1])}")
        elif "#" in upper:
            day, nth = upper.split("#", 1)
            parts.append(f"{_shift_days(day)}#{nth}")
        else:
            parts.append(_shift_days(upper))
    return ",".join(parts)


def _shift_days(text: str) -> str:
    """Day numbers in a range or step ("2-6", "1/2") shifted; names (MON-FRI) kept."""
    if "/" in text:
        start, step = text.split("/", 1)
        return f"{_shift_days(start)}/{step}"
    return re.sub(r"\d+", lambda match: _shift_day(match.group(0)), text)


def _shift_day(number: str) -> str:
    day = int(number)
    if not 1 <= day <= 7:
        raise InvalidSchedule(INVALID)
    return str(day - 1)


# --- the year field ---------------------------------------------------------------------------

def _years_valid(field: str) -> bool:
    try:
        _year_allowed(field, _YEAR_RANGE[0])
    except (ValueError, InvalidSchedule):
        return False
    return True


def _year_allowed(field: str, year: int) -> bool:
    return any(_year_part_allows(part, year) for part in field.split(","))


def _year_part_allows(part: str, year: int) -> bool:
    low, high = _YEAR_RANGE
    step = 1
    if "/" in part:
        part, step_text = part.split("/", 1)
        step = int(step_text)
        if step < 1:
            raise InvalidSchedule(INVALID)
    if part == "*":
        first, last = low, high
    elif "-" in part:
        first, last = (int(value) for value in part.split("-", 1))
    else:
        first = int(part)
        last = high if step > 1 else first
    if not (low <= first <= high and low <= last <= high and first <= last):
        raise InvalidSchedule(INVALID)
    return first <= year <= last and (year - first) % step == 0


def _next_allowed_year(field: str, after: int) -> int | None:
    for year in range(after + 1, _YEAR_RANGE[1] + 1):
        if _year_allowed(field, year):
            return year
    return None
