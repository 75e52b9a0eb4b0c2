"""Who may do what with process maps, stated independently of rollout/access.py."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"

EXPECTED = {
    # Everyone reads the maps and may download them: a process spans departments.
    "processes.view": {A, L, T, H, S},
    "processes.export": {A, L, T, H, S},
    # Department heads shape their own department's processes; leads and admins all of them.
    "processes.create": {A, L, H},
    "processes.edit": {A, L, H},
    "processes.approve": {A, L, H},
    "processes.import": {A, L, H},
}
