"""Who may do what in requirements capture, stated independently of rollout/access.py."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"

EXPECTED = {
    # The hub and one's own invitations: everyone.
    "surveys.view": {A, L, T, H, S},
    # Building, inviting, reminding: the rollout team, and heads for their department's surveys.
    "surveys.manage": {A, L, H},
    "surveys.results": {A, L, H},
    # Every department's answers, not only one's own department's: heads for the surveys they run.
    "surveys.results.all": {A, L, H},
    "surveys.export": {A, L, H},
    # Importing definitions is for the rollout team only.
    "surveys.import": {A, L},
    "interviews.view": {A, L, H},
    "interviews.manage": {A, L, H},
    # Everyone may read the backlog of their department; trainers read all of it to plan courses.
    "requirements.view": {A, L, T, H, S},
    "requirements.manage": {A, L, H},
    "requirements.export": {A, L, H},
    "coverage.view": {A, L, H},
}
