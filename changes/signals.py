"""Signals other modules subscribe to (training, retros); changes never imports them.

``release_implemented``: sender is the Release; keyword arguments
``affected_roles`` (list of role names), ``affected_department_ids`` (list of
ints, empty meaning the whole company) and ``processes`` (processmaps Process
objects touched by the release's requests).

``change_decided``: sender is the ChangeRequest; ``outcome`` (approved,
rejected, deferred) and ``reason``.
"""
from blinker import Namespace

signals = Namespace()

release_implemented = signals.signal("changes.release-implemented")
change_decided = signals.signal("changes.change-decided")
