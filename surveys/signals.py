"""Signals other modules subscribe to (changes, dashboard); surveys never imports them.

``requirement_created``: sender is the new Requirement.
``requirement_status_changed``: sender is the Requirement; ``old`` and ``new`` status names.
``requirements_merged``: sender is the surviving Requirement; ``duplicates`` the ones merged into it.
"""
from blinker import Namespace

signals = Namespace()

requirement_created = signals.signal("surveys.requirement-created")
requirement_status_changed = signals.signal("surveys.requirement-status-changed")
requirements_merged = signals.signal("surveys.requirements-merged")
