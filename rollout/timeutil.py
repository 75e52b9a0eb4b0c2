"""Time helpers: the database stores naive UTC datetimes; pages show local time."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

#: The dates anyone means: wide enough for old records and long plans. Dates outside (0001-01-01,
#: 9999-12-31) are refused where they are typed, since date arithmetic on them overflows.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


def is_plausible(value: date | datetime | None) -> bool:
    """Is ``value`` within EARLIEST..LATEST? (None is left to the required check.)"""
    if value is None:
        return True
    day = value.date() if isinstance(value, datetime) else value
    return EARLIEST <= day <= LATEST


def utcnow() -> datetime:
    """Current time as a naive UTC datetime (the form every *_at column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def display_zone() -> ZoneInfo:
    name = current_app.config.get("DISPLAY_TIMEZONE", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def to_local(value: datetime | None) -> datetime | None:
    """Convert a stored naive-UTC datetime to the display timezone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(display_zone())


def local_to_utc(value: datetime) -> datetime:
    """Interpret a naive datetime typed by a user in the display timezone; return naive UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=display_zone())
    return value.astimezone(UTC).replace(tzinfo=None)


def local_today() -> date:
    return datetime.now(display_zone()).date()
