"""Who may do what in training, stated independently of rollout/access.py."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"
EVERYONE = {A, L, T, H, S}

EXPECTED = {
    "training.view": EVERYONE,
    "training.enrol": EVERYONE,
    "training.assign": {A, L, T, H},
    "training.manage": {A, L, T},
    "training.matrix": {A, L, T, H},
    "training.export": {A, L, T, H},
    "training.seeds": {A, L, T, H},
    "training.seeds.manage": {A, L, H},
    # staff ask questions and, as seed users, see their department's
    "training.support": EVERYONE,
    "training.support.answer": {A, L, H, S},
    "training.faq.manage": {A, L, T},
}
