"""Time-driven reminders of the sales core: lead response deadlines (hourly) and the public-pool
warning before idle customers return to the pool (daily, with the pool sweep).

Both jobs are safe to run again: before telling anyone they look for the notice they would send
among the notifications already stored (same event, person and link, since the hand-off or the
start of the idle spell), so nobody is told twice. Each takes ``now`` so that tests and replays
can move the clock; notices sent with a moved clock are dated at that clock.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from babel.lists import format_list
from flask_babel import get_locale, lazy_ngettext, ngettext, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select

from rollout.access import can, head_scope_ids
from rollout.accounts.models import ADMIN, HEAD, LEAD, STAFF, Department, User, UserRole
from rollout.audit.models import AuditEntry
from rollout.audit.services import as_system
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.notify.services import notify
from rollout.plans.models import OPEN_STAGES, Customer, CustomerAssignment, Lead, Opportunity
from rollout.plans.services import CLAIM_BACK_DAYS, settings_for
from rollout.timeutil import to_local, utcnow

# --- lead response deadlines -------------------------------------------------------------------------------
#: A rep is reminded in the last quarter of the time they were given to answer a lead ...
LEAD_DUE_SOON_SHARE = 4
#: ... but no earlier than a day before the deadline, and no later than two hours before it
#: (the job runs hourly: two hours leave one run to remind and an hour to answer).
LEAD_DUE_SOON_LONGEST = timedelta(hours=24)
LEAD_DUE_SOON_SHORTEST = timedelta(hours=2)
#: A lead handed over less than this long ago needs no reminder: the hand-off notice gave the deadline.
LEAD_JUST_HANDED = timedelta(hours=1)
#: Deadlines missed longer ago than this are not announced any more (the first run after an upgrade
#: would otherwise report months-old hand-offs one by one); the leads list still shows them as overdue.
LEAD_OVERDUE_LOOKBACK = timedelta(days=7)

LEAD_DUE_SOON = "lead.due_soon"
LEAD_OVERDUE = "lead.overdue"
LEAD_ESCALATED = "lead.escalated"


def _format_local(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def due_soon_window(lead: Lead) -> timedelta:
    """How long before its deadline a rep is reminded of a lead."""
    given = lead.respond_by - (lead.handed_at or lead.respond_by)
    return min(max(given / LEAD_DUE_SOON_SHARE, LEAD_DUE_SOON_SHORTEST), LEAD_DUE_SOON_LONGEST)


def lead_link(lead: Lead, overdue: bool, mine: bool) -> str:
    """Where a reminder about ``lead`` points: the leads list filtered so that the lead is on it."""
    status = "overdue" if overdue else "handed"
    return f"/leads?status={status}" + ("&mine=1" if mine else "") + f"#lead-{lead.id}"


def _already_told(events: tuple[str, ...], leads: list[Lead]) -> set[tuple[str, int, str]]:
    """(event, user id, link) of the notices about these leads sent since the earliest of their hand-offs."""
    if not leads:
        return set()
    since = min(lead.handed_at or lead.respond_by for lead in leads)
    links = sorted({lead_link(lead, overdue, mine) for lead in leads for overdue in (False, True)
                    for mine in (False, True)})
    rows = db.session.execute(select(Notification.event, Notification.user_id, Notification.link,
                                     Notification.created_at).where(
        Notification.event.in_(events), Notification.link.in_(links), Notification.created_at >= since))
    handed = {lead_link(lead, o, m): lead.handed_at or lead.respond_by for lead in leads
              for o in (False, True) for m in (False, True)}
    # A notice from before the lead's latest hand-off was about the earlier one.
    return {(event, user_id, link) for event, user_id, link, at in rows if at >= handed[link]}


def _handers(leads: list[Lead]) -> dict[int, int]:
    """Who handed each lead over last, read from the audit trail (lead id → user id)."""
    if not leads:
        return {}
    rows = db.session.execute(select(AuditEntry.entity_id, AuditEntry.user_id, AuditEntry.changes).where(
        AuditEntry.entity == "leads", AuditEntry.entity_id.in_([str(lead.id) for lead in leads]),
        AuditEntry.action.in_(["create", "update"]), AuditEntry.user_id.is_not(None))
        .order_by(AuditEntry.created_at, AuditEntry.id))
    found = {}
    for entity_id, user_id, changes in rows:
        if changes and "handed_at" in changes and (changes["handed_at"] or [None, None])[-1]:
            found[int(entity_id)] = user_id
    return found


def _heads_by_department() -> dict[int, list[User]]:
    heads: dict[int, list[User]] = defaultdict(list)
    for head in db.session.scalars(select(User).join(UserRole).where(UserRole.role == "head",
                                                                    User.is_active_account.is_(True))):
        for department_id in head_scope_ids(head):
            heads[department_id].append(head)
    return heads


def _escalation_owner(lead: Lead, hander_id: int | None) -> User | None:
    """Whom an unanswered hand-off goes back to: who handed it over, else who recorded the lead,
    as long as they (still) may hand the lead to someone else."""
    for user_id in (hander_id, lead.created_by_id):
        user = db.session.get(User, user_id) if user_id else None
        if user is not None and user.is_active_account and can(user, "campaigns.manage", lead):
            return user
    return None


def _left_text(left: timedelta) -> str:
    hours = max(1, round(left.total_seconds() / 3600))
    return ngettext("about %(num)d hour", "about %(num)d hours", hours)


def _due_soon_body(lead: Lead, left: timedelta) -> str:
    return _("Accept it or send it back by %(when)s (%(left)s left). Without an answer by then the hand-off is "
             "reported as overdue to whoever handed it to you and to your head.",
             when=_format_local(lead.respond_by), left=_left_text(left))


def _names(users: list[User]) -> str:
    """"A, B and C" / "A、B和C", as the reader's language lists names."""
    return format_list([u.display_name for u in users], locale=get_locale())


def _overdue_body(lead: Lead, told: list[User]) -> str:
    when = _format_local(lead.respond_by)
    if told:
        return _("Your answer was due at %(when)s and %(names)s have been told. Accept the lead or send it back "
                 "now.", when=when, names=_names(told))
    return _("Your answer was due at %(when)s. Accept the lead or send it back now.", when=when)


def _escalation_body(lead: Lead, rep: User | None, may_hand: bool) -> str:
    values = {"rep": rep.display_name if rep else "—", "when": _format_local(lead.respond_by),
              "handed": _format_local(lead.handed_at) if lead.handed_at else "—"}
    if may_hand:
        return _("Handed to %(rep)s at %(handed)s; the answer was due at %(when)s. Ask for an answer, or hand the "
                 "lead to another rep on the leads page.", **values)
    return _("Handed to %(rep)s at %(handed)s; the answer was due at %(when)s. Please ask them for an answer.",
             **values)


def _stamp(notices, now: datetime, moved: bool) -> None:
    """Date notices sent with a moved clock at that clock, so that the next run sees them."""
    if moved:
        for notice in notices:
            notice.created_at = now


@dataclass
class LeadReminders:
    reminded: int = 0
    overdue: int = 0


def remind_leads(now: datetime | None = None) -> LeadReminders:
    """Remind reps of lead hand-offs nearing their deadline, and report missed deadlines to the rep,
    to who handed the lead over and to the rep's heads; each once per hand-off (run hourly)."""
    moved, now = now is not None, now or utcnow()
    result = LeadReminders()
    with as_system():
        leads = list(db.session.scalars(select(Lead).where(
            Lead.status == "handed", Lead.owner_id.is_not(None), Lead.respond_by.is_not(None),
            Lead.respond_by >= now - LEAD_OVERDUE_LOOKBACK, Lead.respond_by <= now + LEAD_DUE_SOON_LONGEST)
            .options(db.joinedload(Lead.owner)).order_by(Lead.respond_by, Lead.id)))
        due_soon = [lead for lead in leads if lead.respond_by > now and now >= lead.respond_by - due_soon_window(lead)
                    and (lead.handed_at is None or now - lead.handed_at >= LEAD_JUST_HANDED)]
        overdue = [lead for lead in leads if lead.respond_by <= now]
        told = _already_told((LEAD_DUE_SOON, LEAD_OVERDUE), due_soon + overdue)
        for lead in due_soon:
            link = lead_link(lead, overdue=False, mine=True)
            if (LEAD_DUE_SOON, lead.owner_id, link) in told:
                continue
            _stamp(notify([lead.owner], LEAD_DUE_SOON, _l("Lead waiting for your answer: %(name)s",
                                                            name=lead.company_name),
                          partial(_due_soon_body, lead, lead.respond_by - now), link=link), now, moved)
            result.reminded += 1
        overdue = [lead for lead in overdue
                   if (LEAD_OVERDUE, lead.owner_id, lead_link(lead, overdue=True, mine=True)) not in told]
        handers, heads = (_handers(overdue), _heads_by_department()) if overdue else ({}, {})
        for lead in overdue:
            rep = lead.owner
            owner = _escalation_owner(lead, handers.get(lead.id))
            rep_heads = [h for h in heads.get(rep.department_id, []) if h.id not in (rep.id, owner and owner.id)]
            told_people = ([owner] if owner and owner.id != rep.id else []) + rep_heads
            notices = notify([rep], LEAD_OVERDUE, _l("Lead overdue: %(name)s", name=lead.company_name),
                             partial(_overdue_body, lead, told_people), link=lead_link(lead, overdue=True, mine=True))
            subject = _l("%(rep)s has not answered the lead %(name)s", rep=rep.display_name, name=lead.company_name)
            link = lead_link(lead, overdue=True, mine=False)
            if owner is not None and owner.id != rep.id:
                notices += notify([owner], LEAD_ESCALATED, subject, partial(_escalation_body, lead, rep, True),
                                  link=link)
            if rep_heads:
                notices += notify(rep_heads, LEAD_ESCALATED, subject, partial(_escalation_body, lead, rep, False),
                                  link=link)
            _stamp(notices, now, moved)
            result.overdue += 1
        db.session.flush()
    return result


# --- the public pool (公海) --------------------------------------------------------------------------------
#: Owners are warned this many days before an idle customer returns to the pool ...
POOL_WARNING_DAYS = 3
#: ... or, where the pool period is short, in its last quarter (a 7-day period warns a day ahead).
POOL_WARNING_SHARE = 4
#: Customers named in one warning; the rest are counted and on the linked list.
POOL_WARNING_LISTED = 20
POOL_WARNING = "customer.pool_warning"


def pool_warning_days(release_days: int) -> int:
    """Days of warning before a customer idle for ``release_days`` returns to the pool (0: none)."""
    return min(POOL_WARNING_DAYS, release_days // POOL_WARNING_SHARE)


def _idle_since(customer: Customer) -> datetime:
    return customer.last_followup_at or customer.created_at


def customer_link(customer_id: int) -> str:
    return f"/customers/{customer_id}"


#: How a pool warning's body names a customer: a Markdown link to its page (see _pool_warning_body).
_NAMED_CUSTOMER = re.compile(r"\]\(/customers/(\d+)\)")


def _markdown_link(customer: Customer) -> str:
    return f"[{customer.name}]({customer_link(customer.id)})"


def _pool_warning_body(owner_customers: list[tuple[Customer, datetime]]) -> str:
    # "Name: time" in English, "名称：时间" (a full-width colon) in Chinese.
    lines = ["- " + pgettext("pool warning line", "%(customer)s: %(when)s", customer=_markdown_link(customer),
                             when=_format_local(returns_at))
             for customer, returns_at in owner_customers[:POOL_WARNING_LISTED]]
    rest = len(owner_customers) - POOL_WARNING_LISTED
    if rest > 0:
        lines.append("- " + ngettext("and %(num)d more", "and %(num)d more", rest))
    return (_("Without a follow-up these customers return to the public pool at the time shown; a follow-up "
              "logged before then keeps them with you.") + "\n\n" + "\n".join(lines))


def _pool_warnings_naming(owner_ids: list[int], since: datetime) -> dict[tuple[int, int], list[datetime]]:
    """When each of these owners was warned of each customer since ``since``: (owner id, customer id) → times
    of the pool warnings whose body names the customer (one statement for the whole run)."""
    if not owner_ids:
        return {}
    told: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    for user_id, body, at in db.session.execute(select(
            Notification.user_id, Notification.body_markdown, Notification.created_at).where(
            Notification.event == POOL_WARNING, Notification.user_id.in_(owner_ids), Notification.created_at >= since)):
        for customer_id in _NAMED_CUSTOMER.findall(body or ""):
            told[(user_id, int(customer_id))].append(at)
    return told


def pool_warning_link(owner: User) -> str:
    """The customer list as a pool warning opens it: the longest without a follow-up (the due ones) first.

    A rep's list holds only their own customers; a head's or lead's is filtered to theirs where the list's
    owner filter can show it (it offers the reps), so that nobody reads a list filtered by what they cannot see.
    """
    link = "/customers?sort=last_followup"
    if owner.has_role(ADMIN, LEAD, HEAD) and owner.has_role(STAFF):
        link += f"&owner_id={owner.id}"
    return link


def warn_pool(now: datetime | None = None) -> int:
    """Warn owners of customers that return to the pool within the warning period, one notice per owner
    listing them; each customer once per idle spell (a follow-up starts a new one). Returns the number
    of customers named (run daily, with the pool sweep)."""
    moved, now = now is not None, now or utcnow()
    idle_since = func.coalesce(Customer.last_followup_at, Customer.created_at)
    by_days: dict[int, list[int | None]] = defaultdict(list)
    for department_id in list(db.session.scalars(select(Department.id))) + [None]:
        by_days[settings_for(department_id).pool_release_days].append(department_id)
    windows = []
    for days, ids in by_days.items():
        warn = pool_warning_days(days)
        if warn <= 0:
            continue
        in_departments = [Customer.department_id.in_([i for i in ids if i is not None] or [-1])]
        if None in ids:
            in_departments.append(Customer.department_id.is_(None))
        windows.append(and_(or_(*in_departments), idle_since < now - timedelta(days=days - warn),
                            idle_since >= now - timedelta(days=days)))
    if not windows:
        return 0
    customers = list(db.session.scalars(select(Customer).where(
        Customer.is_in_pool.is_(False), Customer.owner_id.is_not(None), Customer.deleted_at.is_(None),
        Customer.is_lost.is_(False), or_(*windows),
        ~select(Opportunity.id).where(Opportunity.customer_id == Customer.id,
                                      Opportunity.stage.in_(OPEN_STAGES)).exists())
        .order_by(idle_since, Customer.id)))
    if not customers:
        return 0
    clocks = []
    for customer in customers:
        days = settings_for(customer.department_id).pool_release_days
        returns_at = _idle_since(customer) + timedelta(days=days)
        clocks.append((customer, returns_at, returns_at - timedelta(days=pool_warning_days(days))))
    told = _pool_warnings_naming(sorted({c.owner_id for c in customers}), min(w for _c, _r, w in clocks))
    due: dict[int, list[tuple[Customer, datetime]]] = defaultdict(list)
    for customer, returns_at, warned_from in clocks:
        # Told in this idle spell: a warning to its present owner named it since its warning period began
        # (not merely a warning about other customers: one freed from a lost deal, handed to a new owner or
        # brought forward by a shorter pool period enters the period later than those).
        if any(at >= warned_from for at in told.get((customer.owner_id, customer.id), ())):
            continue
        due[customer.owner_id].append((customer, returns_at))
    named = 0
    with as_system():
        for owner_id, owner_customers in due.items():
            owner = db.session.get(User, owner_id)
            if owner is None:
                continue
            count = len(owner_customers)
            notices = notify([owner], POOL_WARNING,
                             lazy_ngettext("%(num)d customer returns to the public pool soon",
                                           "%(num)d customers return to the public pool soon", count),
                             partial(_pool_warning_body, owner_customers), link=pool_warning_link(owner))
            _stamp(notices, now, moved)
            named += count
        db.session.flush()
    return named


# --- the customer page -------------------------------------------------------------------------------------
@dataclass
class PoolClock:
    """When the pool rule acts on one customer, as its page shows it (naive UTC times)."""

    #: When an owned customer returns to the pool if nobody logs a follow-up first.
    returns_at: datetime | None = None
    #: The owner has been warned (or is about to be): it returns within the warning period.
    is_due_soon: bool = False
    #: Its time has passed (an import of old follow-ups, a shortened pool period, a deal lost): it returns at the
    #: next sweep (the nightly job or a view of the pool), not at ``returns_at``, long gone.
    is_overdue: bool = False
    #: Kept by its owner however long it is idle, because a deal is in progress.
    is_held_by_deal: bool = False
    #: For a pool customer the viewer returned lately: when they may claim it again.
    claim_back_at: datetime | None = None


def pool_clock(customer: Customer, viewer: User | None = None, now: datetime | None = None) -> PoolClock:
    """When ``customer`` returns to the pool (owned), or when ``viewer`` may claim it back (pooled)."""
    now = now or utcnow()
    clock = PoolClock()
    if customer.deleted_at is not None or customer.is_lost:
        return clock
    if customer.is_in_pool:
        if viewer is not None:
            returned = db.session.scalar(select(func.max(CustomerAssignment.created_at)).where(
                CustomerAssignment.customer_id == customer.id, CustomerAssignment.kind == "release",
                CustomerAssignment.from_user_id == viewer.id))
            if returned is not None and returned + timedelta(days=CLAIM_BACK_DAYS) > now:
                clock.claim_back_at = returned + timedelta(days=CLAIM_BACK_DAYS)
        return clock
    if db.session.scalar(select(select(Opportunity.id).where(Opportunity.customer_id == customer.id,
                                                             Opportunity.stage.in_(OPEN_STAGES)).exists())):
        clock.is_held_by_deal = True
        return clock
    days = settings_for(customer.department_id).pool_release_days
    clock.returns_at = _idle_since(customer) + timedelta(days=days)
    clock.is_due_soon = now >= clock.returns_at - timedelta(days=max(pool_warning_days(days), 0))
    clock.is_overdue = now >= clock.returns_at
    return clock
