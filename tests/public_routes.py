"""Endpoints that may be opened without logging in, beyond login, language and health.

Modules list their token-protected endpoints here (survey invitations, calendar feeds).
"""
PUBLIC_ENDPOINTS: set[str] = {
    "reports.calendar_feed",  # personal calendar feed, protected by User.calendar_token
    "accounts.sign_in_link",  # choosing a password, protected by a signed timed token
    "surveys.respond",  # personal survey link, protected by SurveyInvitation.token
}
