"""Who may see and manage the rollout plan, readiness and adoption, stated independently."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"

EXPECTED = {
    "dashboard.view": {A, L, T, H},
    "rollout_plan.manage": {A, L},
    "readiness.configure": {A, L},
    "dashboard.report": {A, L, H},
    "ranking.publish": {A, L, H},
    "ranking.view": {A, L, T, H, S},
}
