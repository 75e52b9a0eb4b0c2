"""The output package uses core actions only (notifications.view, profile.edit, outbox.manage,
channels.manage, audit.view, data.export, users.manage); their expectations are in
tests/rollout/test_access_matrix.py. The calendar feed is public (token) and listed in
tests/public_routes.py."""
EXPECTED: dict[str, set[str]] = {}
