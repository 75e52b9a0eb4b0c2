"""Who may perform each change-request action, stated independently of rollout/access.py."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"

EXPECTED = {
    "changes.view": {A, L, T, H, S},
    # Everyone sees their own drafts; leads and admins everyone's.
    "changes.view_draft": {A, L, T, H, S},
    "changes.create": {A, L, T, H, S},
    "changes.edit": {A, L, T, H, S},
    "changes.transition": {A, L, T, H, S},
    "changes.review": {A, L},
    "changes.plan": {A, L},
    # Only project leads and admins see and manage the review cadences.
    "changes.cadences": {A, L},
    "changes.metrics": {A, L, H},
}
