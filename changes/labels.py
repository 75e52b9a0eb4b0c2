"""Display labels for the codes stored on change requests, windows and releases."""
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from rollout.accounts.forms import ROLE_LABELS
from rollout.audit.display import label_codes

KIND_LABELS = {"standard": _l("Standard"), "normal": _l("Normal"), "emergency": _l("Emergency")}
KIND_HELP = {
    "standard": _l("A pre-approved kind of change: goes straight to scheduling."),
    "normal": _l("Waits for the next review window."),
    "emergency": _l("Decided at once by a project lead or admin, reviewed again at the next window."),
}
URGENCY_LABELS = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High"), "critical": _l("Critical")}
IMPACT_LABELS = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High")}
RISK_LABELS = {"low": _l("Low risk"), "medium": _l("Medium risk"), "high": _l("High risk"),
               "critical": _l("Critical risk")}
RISK_BADGES = {"low": "text-bg-success", "medium": "text-bg-info", "high": "text-bg-warning",
               "critical": "text-bg-danger"}
STATE_LABELS = {
    "draft": _l("Draft"), "submitted": _l("Submitted"), "assessed": _l("Assessed"),
    "awaiting_window": _l("Awaiting window"), "approved": _l("Approved"), "rejected": _l("Rejected"),
    "deferred": _l("Deferred"), "scheduled": _l("Scheduled"), "implementing": _l("Implementing"),
    "implemented": _l("Implemented"), "reviewed": _l("Reviewed"), "closed": _l("Closed"),
    "cancelled": _l("Cancelled"),
}
STATE_BADGES = {
    "draft": "text-bg-light border", "submitted": "text-bg-secondary", "assessed": "text-bg-secondary",
    "awaiting_window": "text-bg-info", "approved": "text-bg-success", "rejected": "text-bg-danger",
    "deferred": "text-bg-warning", "scheduled": "text-bg-primary", "implementing": "text-bg-primary",
    "implemented": "text-bg-success", "reviewed": "text-bg-success", "closed": "text-bg-dark",
    "cancelled": "text-bg-light border text-muted",
}
#: What the button that makes each move says.
MOVE_LABELS = {
    "submitted": _l("Submit"), "assessed": _l("Assess"), "awaiting_window": _l("Put on the agenda"),
    "approved": _l("Approve"), "rejected": _l("Reject"), "deferred": _l("Defer"),
    "scheduled": _l("Schedule into a release"), "implementing": _l("Start implementing"),
    "implemented": _l("Mark implemented"), "reviewed": _l("Record the review"), "closed": _l("Close"),
    "cancelled": _l("Cancel request"),
}
RISK_RULE_LABELS = {
    "approved_process": _l("Touches an approved process: %(detail)s"),
    "permissions": _l("Changes permissions"),
    "data_fields": _l("Changes data fields"),
    "freeze": _l("The wanted date falls in a freeze: %(detail)s"),
}
WEEKDAY_LABELS = [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
                  _l("Saturday"), _l("Sunday")]
RELEASE_STATE_LABELS = {"planned": _l("Planned"), "implemented": _l("Implemented")}


def risk_reason_text(reason: dict) -> str:
    """One fired risk rule as a sentence."""
    rule, detail, limit = reason.get("rule"), reason.get("detail", 0), reason.get("limit", "")
    if rule == "many_roles":
        return ngettext("Affects %(num)d role (more than %(limit)s)", "Affects %(num)d roles (more than %(limit)s)",
                        int(detail), limit=limit)
    if rule == "short_notice":
        return ngettext("Submitted only %(num)d day before the wanted date (fewer than %(limit)s)",
                        "Submitted only %(num)d days before the wanted date (fewer than %(limit)s)",
                        int(detail), limit=limit)
    label = RISK_RULE_LABELS.get(rule)
    if label is None:
        return str(reason.get("rule"))
    return str(label) % {"detail": reason.get("detail", ""), "limit": reason.get("limit", "")}

label_codes({
    ("change_requests", "kind"): KIND_LABELS, ("change_requests", "urgency"): URGENCY_LABELS,
    ("change_requests", "impact"): IMPACT_LABELS, ("change_requests", "state"): STATE_LABELS,
    ("change_requests", "risk_level"): RISK_LABELS, ("change_requests", "risk_raised_level"): RISK_LABELS,
    ("change_requests", "affected_roles"): ROLE_LABELS, ("change_transitions", "from_state"): STATE_LABELS,
    ("change_transitions", "to_state"): STATE_LABELS, ("releases", "state"): RELEASE_STATE_LABELS,
})
