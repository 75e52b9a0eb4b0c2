"""Endpoints that may be opened without logging in, beyond login, language and health.

Modules list their token-protected endpoints here (survey invitations, calendar feeds).
"""
PUBLIC_ENDPOINTS: set[str] = {
    "reports.calendar_feed",  # personal calendar feed, protected by User.calendar_token
    "surveys.respond",  # personal survey link, protected by SurveyInvitation.token
}
