"""iCalendar (RFC 5545) files for dated items: stable UIDs, SEQUENCE, cancellations, feeds.

Times are written in the configured zone (``CALENDAR_TIMEZONE``, else the
display zone, Asia/Shanghai by default) with its VTIMEZONE, so calendar
programs show the same wall-clock time as the pages.  An item's ``uid`` must
not change when the item does; its ``sequence`` must rise on every change,
and a cancelled item keeps its uid with a higher sequence.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, current_app, has_app_context, has_request_context, request
from icalendar import Calendar, Event

from rollout.timeutil import utcnow

METHODS = ("PUBLISH", "REQUEST", "CANCEL")


@dataclass
class CalendarItem:
    """One dated item. ``uid`` must stay the same across updates; ``sequence`` rises on each change.

    ``start_at``/``end_at`` are naive UTC datetimes, or dates for an all-day
    item (``end_at`` then is the last day, inclusive, or None for one day).
    """
    uid: str
    summary: str
    start_at: datetime | date
    end_at: datetime | date | None = None
    sequence: int = 0
    location: str | None = None
    description: str | None = None
    url: str | None = None
    is_cancelled: bool = False
    #: Not certain yet (a seat on a waitlist): calendar programs show it as "maybe".
    is_tentative: bool = False
    #: Naive UTC time of the item's last change, when known.
    updated_at: datetime | None = None

    @property
    def is_all_day(self) -> bool:
        return not isinstance(self.start_at, datetime)


def calendar_zone() -> ZoneInfo:
    """The zone calendar files are written in: CALENDAR_TIMEZONE, else the display zone."""
    config = current_app.config
    return ZoneInfo(config.get("CALENDAR_TIMEZONE") or config.get("DISPLAY_TIMEZONE") or "Asia/Shanghai")


def _event(item: CalendarItem, zone: ZoneInfo, stamp: datetime, cancel: bool) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    event.add("sequence", item.sequence)
    event.add("summary", item.summary)
    if item.is_all_day:
        last_day = item.end_at or item.start_at
        event.add("dtstart", item.start_at)
        event.add("dtend", last_day + timedelta(days=1))  # DTEND of a date is exclusive
    else:
        end = item.end_at or item.start_at + timedelta(hours=1)
        event.add("dtstart", item.start_at.replace(tzinfo=UTC).astimezone(zone))
        event.add("dtend", end.replace(tzinfo=UTC).astimezone(zone))
    if item.updated_at:
        event.add("last-modified", item.updated_at.replace(tzinfo=UTC))
    if item.location:
        event.add("location", item.location)
    if item.description:
        event.add("description", item.description)
    if item.url:
        event.add("url", absolute_url(item.url))
    if cancel or item.is_cancelled:
        event.add("status", "CANCELLED")
    else:
        event.add("status", "TENTATIVE" if item.is_tentative else "CONFIRMED")
    return event


def absolute_url(link: str) -> str:
    """A link a calendar program can open: the address the reader uses, else the configured BASE_URL."""
    if not link.startswith("/"):
        return link
    if has_request_context():
        base = request.url_root
    else:
        base = current_app.config.get("BASE_URL", "") if has_app_context() else ""
    return base.rstrip("/") + link


def build_calendar(items: list[CalendarItem], name: str, method: str = "PUBLISH") -> bytes:
    """Serialise items as a VCALENDAR in the configured timezone (with its VTIMEZONE).

    ``method="CANCEL"`` tells calendar programs to remove the items (each
    must carry its original uid and a higher sequence).
    """
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unknown iCalendar method {method}")
    zone = calendar_zone()
    calendar = Calendar()
    calendar.add("prodid", "-//Rollout Desk//rollout-desk//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    # A title with a line break would break the content line: X- properties are not escaped.
    calendar.add("x-wr-calname", " ".join(str(name).split()))
    calendar.add("x-wr-timezone", zone.key)
    # Subscribed calendars: ask clients to refresh hourly.
    calendar.add("x-published-ttl", "PT1H")
    stamp = utcnow().replace(tzinfo=UTC, microsecond=0)
    for item in items:
        calendar.add_component(_event(item, zone, stamp, cancel=method == "CANCEL"))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def ics_response(items: list[CalendarItem], name: str, filename: str, method: str = "PUBLISH",
                 inline: bool = False) -> Response:
    """A calendar download (or, ``inline``, a subscription feed body)."""
    from rollout.reports.exports import download_response
    data = build_calendar(items, name, method)
    mimetype = f"text/calendar; charset=utf-8; method={method.upper()}"
    if inline:
        return Response(data, content_type=mimetype)
    return download_response(data, filename, mimetype)


#: Functions ``(user) -> list[CalendarItem]`` that contribute to a user's personal feed.
FEED_PROVIDERS: list = []


def register_feed_provider(provider) -> None:
    """Modules call this (at import of their views) to add their dated items to personal feeds."""
    if provider not in FEED_PROVIDERS:
        FEED_PROVIDERS.append(provider)


def personal_feed_items(user) -> list[CalendarItem]:
    """Every dated item of every module that concerns ``user``, for their subscription feed."""
    items: list[CalendarItem] = []
    for provider in FEED_PROVIDERS:
        items.extend(provider(user))
    return items
