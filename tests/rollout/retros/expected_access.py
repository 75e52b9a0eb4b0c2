"""Who may do what with retros, stated independently of rollout/access.py."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"

EXPECTED = {
    "retros.view": {A, L, T, H, S},
    "retros.participate": {A, L, T, H, S},
    "retros.create": {A, L, H},
    # staff and trainers only for retros they facilitate (object check)
    "retros.facilitate": {A, L, T, H, S},
    "retros.actions.update": {A, L, T, H, S},
    "retros.convert": {A, L, T, H, S},
    "retros.export": {A, L, H},
}
