"""Tiered, role-based training, seed users and the FAQ knowledge base."""
