"""Who may perform each sales-plan action, stated independently of rollout/access.py."""
A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"

EXPECTED = {
    "plans.view": {A, L, H, S},
    "plans.edit": {A, L, H},
    "plans.approve": {A, L, H},  # heads: the plans below them, not their own (object check)
    "customers.view": {A, L, H, S},
    "customers.edit": {A, L, H, S},
    "customers.assign": {A, L, H},
    "pool.claim": {A, L, H, S},
    "deals.view": {A, L, H, S},
    "deals.edit": {A, L, H, S},
    "quotes.view": {A, L, H, S},
    "quotes.edit": {A, L, H, S},
    "quotes.approve": {A, L, H, S},
    "campaigns.view": {A, L, H, S},
    "campaigns.manage": {A, L, H, S},
    "leads.view": {A, L, H, S},
    "sales.configure": {A},
}
