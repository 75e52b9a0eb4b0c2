"""Home pages per role, the rollout plan, readiness and adoption."""
