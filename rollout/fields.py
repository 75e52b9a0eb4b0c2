"""Form fields shared by every module: dates refuse what no one means (see timeutil.EARLIEST)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import fields

from rollout.timeutil import EARLIEST, LATEST, is_plausible


class _PlausibleDate:
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        # The typed date stays (shown again with the message; a "required" check would replace the message).
        if not is_plausible(self.data):
            raise ValueError(_l("The date must be between %(start)s and %(end)s.",
                                start=EARLIEST.isoformat(), end=LATEST.isoformat()))


class DateField(_PlausibleDate, fields.DateField):
    """A date between EARLIEST and LATEST."""


class DateTimeLocalField(_PlausibleDate, fields.DateTimeLocalField):
    """A local date and time between EARLIEST and LATEST."""
