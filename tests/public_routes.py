"""Endpoints that may be opened without logging in, beyond login, language and health.

Modules list their token-protected endpoints here (survey invitations, calendar feeds).
"""
PUBLIC_ENDPOINTS: set[str] = set()
