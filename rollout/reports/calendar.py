"""iCalendar (RFC 5545) files for dated items: stable UIDs, SEQUENCE, cancellations, feeds."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Response, current_app
from icalendar import Calendar, Event

from rollout.timeutil import utcnow


@dataclass
class CalendarItem:
    """One dated item. ``uid`` must stay the same across updates; ``sequence`` rises on each change."""
    uid: str
    summary: str
    start_at: datetime  # naive UTC
    end_at: datetime  # naive UTC
    sequence: int = 0
    location: str | None = None
    description: str | None = None
    url: str | None = None
    is_cancelled: bool = False


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("CALENDAR_TIMEZONE", current_app.config["DISPLAY_TIMEZONE"]))


def build_calendar(items: list[CalendarItem], name: str, method: str = "PUBLISH") -> bytes:
    """Serialise items as a VCALENDAR in the configured timezone (with its VTIMEZONE)."""
    zone = _zone()
    calendar = Calendar()
    calendar.add("prodid", "-//Rollout Desk//rollout-desk//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone.key)
    stamp = utcnow().replace(tzinfo=UTC)
    for item in items:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("sequence", item.sequence)
        event.add("summary", item.summary)
        event.add("dtstart", item.start_at.replace(tzinfo=UTC).astimezone(zone))
        event.add("dtend", item.end_at.replace(tzinfo=UTC).astimezone(zone))
        if item.location:
            event.add("location", item.location)
        if item.description:
            event.add("description", item.description)
        if item.url:
            event.add("url", item.url)
        event.add("status", "CANCELLED" if item.is_cancelled else "CONFIRMED")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def ics_response(items: list[CalendarItem], name: str, filename: str, method: str = "PUBLISH") -> Response:
    from rollout.reports.exports import download_response
    data = build_calendar(items, name, method)
    return download_response(data, filename, "text/calendar; charset=utf-8")


#: Functions ``(user) -> list[CalendarItem]`` that contribute to a user's personal feed.
FEED_PROVIDERS: list = []


def register_feed_provider(provider) -> None:
    """Modules call this (at import of their views) to add their dated items to personal feeds."""
    if provider not in FEED_PROVIDERS:
        FEED_PROVIDERS.append(provider)


def personal_feed_items(user) -> list[CalendarItem]:
    items: list[CalendarItem] = []
    for provider in FEED_PROVIDERS:
        items.extend(provider(user))
    return items
