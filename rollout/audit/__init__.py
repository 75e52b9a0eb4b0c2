"""Append-only audit trail of every change, login, denial and export."""
