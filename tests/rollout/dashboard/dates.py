"""Dates asked when a test runs, not when its module is imported: a run that passes local midnight (or
into a new week) would otherwise compare figures with yesterday's date or last week's."""
from datetime import date, timedelta

from rollout.timeutil import local_today


def today() -> date:
    return local_today()


def monday() -> date:
    return today() - timedelta(days=today().weekday())
