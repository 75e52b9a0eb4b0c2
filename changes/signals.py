"""Signals other modules subscribe to (training, retros); changes never imports them.

``release_implemented``: sender is the Release; keyword arguments
``affected_roles`` (list of role names), ``affected_department_ids`` (list of
ints, empty meaning the whole company) and ``processes`` (processmaps Process
objects touched by the release's requests).

``change_implemented``: a change request implemented on its own, outside any
release (an emergency fixed at once); sender is the ChangeRequest, with the same
keyword arguments as ``release_implemented`` (its own roles, departments and
processes). A request implemented as part of a release does not send it: the
release's ``release_implemented`` covers it.

``change_decided``: sender is the ChangeRequest; ``outcome`` (approved,
rejected, deferred) and ``reason``.
"""
from blinker import Namespace

signals = Namespace()

release_implemented = signals.signal("changes.release-implemented")
change_implemented = signals.signal("changes.change-implemented")
change_decided = signals.signal("changes.change-decided")
