"""Who may perform each change-request action, stated independently of rollout/access.py."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"

EXPECTED = {
    "changes.view": {A, L, T, H, S},
    "changes.create": {A, L, T, H, S},
    "changes.edit": {A, L, T, H, S},
    "changes.transition": {A, L, T, H, S},
    "changes.review": {A, L},
    "changes.plan": {A, L},
    # Only project leads and admins see and manage the review cadences.
    "changes.cadences": {A, L},
    "changes.metrics": {A, L, H},
}
