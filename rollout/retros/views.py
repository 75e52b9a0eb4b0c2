"""Retro pages: list, board (cards, reveal, grouping, dots, notes, action items), team history, summary."""
from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import and_, or_, select

from rollout.access import ancestor_ids, authorize, can, may_view_change, require, scope_clause, subtree_ids
from rollout.accounts.models import Department, User, UserRole
from rollout.accounts.services import department_choices
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.reports.exports import FORMATS, Column, export_response
from rollout.retros import conversions, services
from rollout.retros.forms import ActionItemForm, CardForm, FaqAnswerForm, NotesForm, RetroForm
from rollout.retros.models import Retro, RetroActionItem, RetroCard
from rollout.timeutil import local_today
from rollout.web import apply_service_error, paginate, record_id

bp = Blueprint("retros", __name__, url_prefix="/retros")

#: Up to this many teams the list filters by a row of buttons; beyond it, by a drop-down list.
TEAM_BUTTONS_MAX = 6
#: Session key holding the ids of anonymous cards this browser wrote, per retro.
OWN_CARDS_KEY = "retro_own_cards"


def _own_card_ids(retro_id: int) -> list[int]:
    return list(session.get(OWN_CARDS_KEY, {}).get(str(retro_id), []))


def _remember_own_card(retro_id: int, card_id: int) -> None:
    own = dict(session.get(OWN_CARDS_KEY, {}))
    own[str(retro_id)] = (own.get(str(retro_id), []) + [card_id])[-200:]
    session[OWN_CARDS_KEY] = own


def _in_team(team: Department) -> SimpleNamespace:
    """Something the access rules can check a department against."""
    return SimpleNamespace(department_id=team.id)


def _load_retro(retro_id: int, action: str = "retros.view") -> Retro:
    retro = db.get_or_404(Retro, retro_id)
    authorize(action, retro)
    return retro


def _team_choices(action: str) -> list[tuple[int, str]]:
    """The teams and departments the user may hold ``action`` for."""
    return [(i, n) for i, n in department_choices(include_company=False)
            if can(current_user, action, SimpleNamespace(department_id=i))]


def _own_team(choices: list[tuple[int, str]]) -> int | None:
    """The user's own team or department, when it is one of the choices: the usual team to hold a retro for."""
    return current_user.department_id if current_user.department_id in {i for i, _name in choices} else None


def _people_choices(team_id: int | None) -> list[tuple[int, str]]:
    """Who may own a team's action item: its members, and the heads of the departments above it."""
    query = select(User.id, User.display_name).where(User.is_active_account.is_(True)).order_by(User.display_name)
    if team_id:
        heads_above = select(UserRole.user_id).where(UserRole.role == "head")
        query = query.where(or_(User.department_id.in_(sorted(subtree_ids(team_id))),
                                and_(User.department_id.in_(sorted(ancestor_ids(team_id))),
                                     User.id.in_(heads_above))))
    return [(row.id, row.display_name) for row in db.session.execute(query)]


@bp.route("/")
@require("retros.view")
def index():
    query = select(Retro).where(scope_clause(current_user, "retros.view", department_column=Retro.team_id))
    team_id = request.args.get("team", type=record_id)
    if team_id:
        query = query.where(Retro.team_id == team_id)
    query = query.options(db.joinedload(Retro.team), db.joinedload(Retro.facilitator)).order_by(
        Retro.held_on.desc(), Retro.id.desc())
    page = paginate(query)
    teams = [team for team in services.teams_with_retros() if can(current_user, "retros.view", _in_team(team))]
    return render_template("retros/index.html", page=page, teams=teams, team_id=team_id,
                           team=next((team for team in teams if team.id == team_id), None),
                           team_select=len(teams) > TEAM_BUTTONS_MAX, state_label=services.state_label)


@bp.route("/new", methods=["GET", "POST"])
@require("retros.create")
def new():
    form = RetroForm()
    form.team_id.choices = _team_choices("retros.create")
    form.template.choices = [(key, name) for key, (name, _cols) in services.TEMPLATES.items()] + [
        (services.CUSTOM, _("Custom columns"))]
    chosen_team = form.team_id.data if request.method == "POST" else (
        request.args.get("team", type=record_id) or _own_team(form.team_id.choices))
    if chosen_team not in {team_id for team_id, _name in form.team_id.choices}:
        chosen_team = None  # not a team this user may hold a retro for (the form refuses it)
    form.facilitator_id.choices = _people_choices(chosen_team if chosen_team else None)
    # Whoever creates it may host it, also from outside the team (a project lead, a trainer).
    if current_user.id not in {user_id for user_id, _name in form.facilitator_id.choices}:
        form.facilitator_id.choices.insert(0, (current_user.id, current_user.display_name))
    if request.method == "GET":
        if chosen_team:
            form.team_id.data = chosen_team
        team_for_date = chosen_team or (form.team_id.choices[0][0] if form.team_id.choices else None)
        if team_for_date:
            form.held_on.data = services.next_held_on(team_for_date)
        form.facilitator_id.data = current_user.id
    if form.validate_on_submit():
        team = db.session.get(Department, form.team_id.data)
        if team is None or not can(current_user, "retros.create", _in_team(team)):
            abort(403)
        try:
            retro = services.create_retro(
                team, form.title.data, form.held_on.data, form.template.data,
                db.session.get(User, form.facilitator_id.data) or current_user,
                custom_columns=services.parse_custom_columns(form.custom_columns.data),
                is_anonymous=form.is_anonymous.data, vote_budget=form.vote_budget.data,
                cadence_days=form.cadence_days.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The retro is ready: collect cards."), "success")
            return redirect(url_for("retros.board", retro_id=retro.id))
    return render_template("retros/form.html", form=form), 422 if form.errors else 200


def _render_board(retro: Retro, card_form=None, action_form=None, notes_form=None, status: int = 200):
    own_ids = _own_card_ids(retro.id)
    cards = services.visible_cards(retro, current_user, own_ids)
    total_cards = services.card_count(retro)
    votes, my_votes = services.vote_counts(retro, current_user)
    is_facilitator = can(current_user, "retros.facilitate", retro)
    card_form = card_form or CardForm(formdata=None)
    card_form.column_id.choices = [(c.id, c.display_title) for c in retro.columns]
    items = services.action_items_of(retro)
    action_form = action_form or ActionItemForm(formdata=None)
    action_form.owner_id.choices = [(0, "—")] + _people_choices(retro.team_id)
    action_form.card_id.choices = [(0, "—")] + [(c.id, c.body[:40]) for c in cards]
    notes_form = notes_form or NotesForm(formdata=None, notes=retro.notes_markdown)
    themes = services.recurring_themes(retro.team_id) if retro.is_revealed else []
    theme_cards = {cid: t.label for t in themes for cid in t.card_ids}
    return render_template(
        "retros/board.html", retro=retro, cards=cards, total_cards=total_cards, votes=votes, my_votes=my_votes,
        dots_left=retro.vote_budget - sum(my_votes.values()), is_facilitator=is_facilitator,
        own_ids=set(own_ids), card_form=card_form, action_form=action_form, notes_form=notes_form,
        items=items, carried=services.carried_over_items(retro), previous=services.previous_retro(retro),
        theme_cards=theme_cards, transitions=[a for (s, a) in services.RETRO_TRANSITIONS if s == retro.status],
        retro_action_labels=services.RETRO_ACTION_LABELS, state_label=services.state_label,
        action_state_label=services.action_state_label, item_actions=services.allowed_item_actions,
        item_action_labels=services.ACTION_ACTION_LABELS, conversions=conversions.available(),
        keeps_faq=can(current_user, "training.faq.manage"), today=local_today(), **_work_of(cards, items)), status


def _work_of(cards, items) -> dict:
    """What the cards and action items became (change requests, questions, FAQ articles), for
    ``retros/_work.html``: three statements whatever their number."""
    links = services.links_of([c.id for c in cards], [i.id for i in items])
    questions = conversions.support_requests_by_id(link.support_request_id for link in links)
    article_ids = [link.faq_article_id for link in links] + [q.article_id for q in questions.values()]
    return {"links": links, "questions": questions, "faq_articles": conversions.faq_articles_by_id(article_ids),
            "change_requests": conversions.change_requests_by_id(link.change_request_id for link in links),
            "change_url": conversions.change_request_url, "faq_url": conversions.faq_article_url,
            "question_url": conversions.support_request_url,
            "question_state": conversions.support_request_state_label,
            "change_state": conversions.change_request_state_label,
            # Someone else's draft is not theirs to open: its badge is no link for them.
            "may_open_change": lambda request: may_view_change(current_user, request)}


@bp.route("/<int:retro_id>")
@require("retros.view")
def board(retro_id):
    return _render_board(_load_retro(retro_id))


@bp.route("/<int:retro_id>/cards", methods=["POST"])
@require("retros.participate")
def add_card(retro_id):
    retro = _load_retro(retro_id, "retros.participate")
    form = CardForm()
    form.column_id.choices = [(c.id, c.display_title) for c in retro.columns]
    if form.validate_on_submit():
        try:
            card_id = services.add_card(retro, current_user, form.column_id.data, form.body.data, form.tag.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            if retro.is_anonymous:
                _remember_own_card(retro.id, card_id)
            flash(_("Your card is added."), "success")
            return redirect(url_for("retros.board", retro_id=retro.id) + "#cards")
    return _render_board(retro, card_form=form, status=422)


def _card_of(retro: Retro, card_id: int) -> RetroCard:
    card = db.get_or_404(RetroCard, card_id)
    if card.retro_id != retro.id:
        abort(404)
    return card


@bp.route("/<int:retro_id>/cards/<int:card_id>/delete", methods=["POST"])
@require("retros.participate")
def delete_card(retro_id, card_id):
    retro = _load_retro(retro_id, "retros.participate")
    card = _card_of(retro, card_id)
    try:
        services.delete_card(retro, card, current_user, can(current_user, "retros.facilitate", retro),
                             _own_card_ids(retro.id))
    except ServiceError as error:
        return _refused(retro, error)
    flash(_("The card is removed."), "success")
    return redirect(url_for("retros.board", retro_id=retro.id) + "#cards")


def _refused(retro: Retro, error: ServiceError):
    apply_service_error(None, error)
    return _render_board(retro, status=422)


@bp.route("/<int:retro_id>/cards/<int:card_id>/group", methods=["POST"])
@require("retros.facilitate")
def group_card(retro_id, card_id):
    retro = _load_retro(retro_id, "retros.facilitate")
    card = _card_of(retro, card_id)
    try:
        services.group_card(retro, card, request.form.get("group", ""))
    except ServiceError as error:
        return _refused(retro, error)
    return redirect(url_for("retros.board", retro_id=retro.id) + f"#card-{card.id}")


@bp.route("/<int:retro_id>/cards/<int:card_id>/vote", methods=["POST"])
@require("retros.participate")
def vote(retro_id, card_id):
    retro = _load_retro(retro_id, "retros.participate")
    card = _card_of(retro, card_id)
    try:
        if request.form.get("remove"):
            services.remove_vote(retro, card, current_user)
        else:
            services.cast_vote(retro, card, current_user)
    except ServiceError as error:
        return _refused(retro, error)
    return redirect(url_for("retros.board", retro_id=retro.id) + f"#card-{card.id}")


@bp.route("/<int:retro_id>/transition", methods=["POST"])
@require("retros.facilitate")
def transition(retro_id):
    retro = _load_retro(retro_id, "retros.facilitate")
    try:
        services.transition_retro(retro, request.form.get("action", ""))
    except ServiceError as error:
        return _refused(retro, error)
    flash(_("The retro is now: %(state)s.", state=services.state_label(retro.status)), "success")
    return redirect(url_for("retros.board", retro_id=retro.id))


@bp.route("/<int:retro_id>/next", methods=["POST"])
@require("retros.create")
def schedule_next(retro_id):
    retro = _load_retro(retro_id, "retros.view")
    authorize("retros.create", _in_team(retro.team))
    try:
        following = services.schedule_next(retro)
    except ServiceError as error:
        return _refused(retro, error)
    flash(_("The next retro is planned for %(date)s.", date=following.held_on), "success")
    return redirect(url_for("retros.board", retro_id=following.id))


@bp.route("/<int:retro_id>/notes", methods=["POST"])
@require("retros.facilitate")
def notes(retro_id):
    retro = _load_retro(retro_id, "retros.facilitate")
    form = NotesForm()
    if form.validate_on_submit():
        try:
            services.save_notes(retro, form.notes.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The notes are saved."), "success")
            return redirect(url_for("retros.board", retro_id=retro.id) + "#notes")
    return _render_board(retro, notes_form=form, status=422)


@bp.route("/<int:retro_id>/actions", methods=["POST"])
@require("retros.facilitate")
def add_action(retro_id):
    retro = _load_retro(retro_id, "retros.facilitate")
    form = ActionItemForm()
    form.owner_id.choices = [(0, "—")] + _people_choices(retro.team_id)
    form.card_id.choices = [(0, "—")] + [(c.id, c.body[:40]) for c in services.visible_cards(
        retro, current_user, _own_card_ids(retro.id))]
    if form.validate_on_submit():
        try:
            services.add_action_item(retro, form.title.data, form.owner_id.data or None, form.due_on.data,
                                     form.card_id.data or None, actor=current_user)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The action item is added."), "success")
            return redirect(url_for("retros.board", retro_id=retro.id) + "#actions")
    return _render_board(retro, action_form=form, status=422)


@bp.route("/actions/<int:item_id>/transition", methods=["POST"])
@require("retros.actions.update")
def action_transition(item_id):
    item = db.get_or_404(RetroActionItem, item_id)
    authorize("retros.actions.update", item)
    back_to = request.form.get("retro_id", type=record_id) or item.retro_id
    try:
        services.transition_action_item(item, request.form.get("action", ""), current_user)
    except ServiceError as error:
        return _refused(db.get_or_404(Retro, back_to), error)
    flash(_("“%(title)s” is now: %(state)s.", title=item.title, state=services.action_state_label(item.status)),
          "success")
    return redirect(url_for("retros.board", retro_id=back_to) + "#actions")


@bp.route("/actions/<int:item_id>/edit", methods=["GET", "POST"])
@require("retros.actions.update")
def edit_action(item_id):
    item = db.get_or_404(RetroActionItem, item_id)
    authorize("retros.actions.update", item)
    back = url_for("retros.board", retro_id=item.retro_id) + "#actions"
    if item.status not in services.UNFINISHED_ACTION_STATES:
        flash(_("A finished action item is kept as it was."), "danger")
        return redirect(back, 303)
    form = ActionItemForm(obj=item) if request.method == "GET" else ActionItemForm()
    del form.card_id  # the card it came from does not change
    people = _people_choices(item.team_id)
    if item.owner is not None and item.owner_id not in {person_id for person_id, _name in people}:
        people.append((item.owner_id, item.owner.display_name))  # moved elsewhere since: still theirs
    form.owner_id.choices = [(0, "—")] + people
    if request.method == "GET":
        form.owner_id.data = item.owner_id or 0
    if form.validate_on_submit():
        try:
            services.update_action_item(item, form.title.data, form.owner_id.data or None, form.due_on.data,
                                        actor=current_user)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The action item is saved."), "success")
            return redirect(back)
    return render_template("retros/action_form.html", form=form, item=item, back=back), \
        422 if form.errors else 200


@bp.route("/teams/<int:team_id>")
@require("retros.view")
def team(team_id):
    department = db.get_or_404(Department, team_id)
    authorize("retros.view", _in_team(department))
    rates = services.done_rates(department.id)
    chart = services.done_rate_chart(department.name, rates) if rates else None
    themes = services.recurring_themes(department.id)
    retros = db.session.scalars(select(Retro).where(Retro.team_id == department.id)
                                .order_by(Retro.held_on.desc(), Retro.id.desc()).limit(20)).all()
    return render_template("retros/team.html", team=department, rates=rates, chart=chart, themes=themes,
                           retros=retros, state_label=services.state_label)


def _summary_context(retro: Retro) -> dict:
    cards = services.cards_of(retro) if retro.is_revealed else []
    votes, _mine = services.vote_counts(retro, current_user)
    by_column = {c.id: sorted([card for card in cards if card.column_id == c.id],
                              key=lambda card: (-votes.get(card.id, 0), card.id)) for c in retro.columns}
    items = services.action_items_of(retro)
    return {"retro": retro, "cards": cards, "by_column": by_column, "votes": votes, **_work_of(cards, items),
            "items": items, "carried": services.carried_over_items(retro),
            "hidden_count": 0 if retro.is_revealed else services.card_count(retro),
            "themes": services.recurring_themes(retro.team_id), "state_label": services.state_label,
            "action_state_label": services.action_state_label}


@bp.route("/<int:retro_id>/summary")
@require("retros.view")
def summary(retro_id):
    retro = _load_retro(retro_id)
    return render_template("retros/summary.html", **_summary_context(retro))


@bp.route("/<int:retro_id>/summary.pdf")
@require("retros.view")
def summary_pdf(retro_id):
    retro = _load_retro(retro_id)
    from rollout.audit.services import record_event
    from rollout.reports.exports import download_response
    from rollout.reports.pdf import render_pdf
    data = render_pdf("retros/summary_pdf.html", report_date=retro.held_on.isoformat(), **_summary_context(retro))
    record_event("download", entity="retros", entity_id=retro.id, detail="summary pdf")
    return download_response(data, f"retro-{retro.held_on.isoformat()}-{retro.id}.pdf", "application/pdf")


@bp.route("/<int:retro_id>/export/<what>")
@require("retros.export")
def export(retro_id, what):
    retro = _load_retro(retro_id, "retros.export")
    fmt = request.args.get("fmt", "xlsx")
    fmt = fmt if fmt in FORMATS else "xlsx"
    if what == "cards":
        if not retro.is_revealed:
            abort(404)  # hidden cards are not exported before the reveal
        votes, _mine = services.vote_counts(retro, current_user)
        columns = [Column(_("Column"), lambda c: c.column.display_title), Column(_("Card"), "body"),
                   Column(_("Tag"), "tag"), Column(_("Group"), lambda c: c.group.title if c.group else ""),
                   Column(_("Dots"), lambda c: votes.get(c.id, 0), "number"),
                   Column(_("Written by"), lambda c: c.author.display_name if c.author else _("Anonymous"))]
        rows = services.cards_of(retro)
    elif what == "actions":
        columns = [Column(_("Action item"), "title"),
                   Column(_("Owner"), lambda i: i.owner.display_name if i.owner else ""),
                   Column(_("Due"), "due_on", "date"),
                   Column(_("Status"), lambda i: services.action_state_label(i.status)),
                   Column(_("Done at"), "done_at", "datetime")]
        rows = services.action_items_of(retro)
    else:
        abort(404)
    listed = _("cards") if what == "cards" else _("action items")
    return export_response(f"{retro.title}-{listed}", columns, rows, fmt, entity="retros",
                           filters={"retro": retro.id, "list": what})


def _conversion_source(kind: str, object_id: int):
    """The card or action item to convert, once the reader may convert it; a hidden card is nobody's business."""
    model = {"card": RetroCard, "action": RetroActionItem}.get(kind)
    if model is None:
        abort(404)
    source = db.get_or_404(model, object_id)
    authorize("retros.convert", source)
    if isinstance(source, RetroCard) and not source.retro.is_revealed:
        abort(404)
    return source


def _board_anchor(source) -> str:
    return url_for("retros.board", retro_id=source.retro_id) + (
        f"#card-{source.id}" if isinstance(source, RetroCard) else "#actions")


@bp.route("/convert/<kind>/<int:object_id>/<target>", methods=["POST"])
@require("retros.convert")
def convert(kind, object_id, target):
    if target not in ("change", "question"):
        abort(404)
    source = _conversion_source(kind, object_id)
    # Back to the board either way, so a reload never posts again.
    back = _board_anchor(source)
    try:
        if target == "change":
            link = conversions.to_change_request(source, current_user)
            message = _with_link(_("Draft change request %(ref)s is created and linked. It is not submitted yet: "
                                   "open it to complete and submit it."),
                                 conversions.change_request_url(link.change_request_id),
                                 conversions.change_request_reference(link.change_request_id))
        else:
            link = conversions.to_support_question(source, current_user)
            message = _with_link(_("Question %(ref)s is asked at the support desk and linked. Its answer can "
                                   "become an FAQ article there."),
                                 conversions.support_request_url(link.support_request_id),
                                 _quoted(conversions.support_requests_by_id([link.support_request_id])
                                         [link.support_request_id].subject))
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(back, 303)
    flash(message, "success")
    return redirect(back)


@bp.route("/convert/<kind>/<int:object_id>/faq", methods=["GET", "POST"])
@require("retros.convert")
def convert_to_faq(kind, object_id):
    """Write the FAQ article that answers a card or action item: for those who keep the FAQ."""
    source = _conversion_source(kind, object_id)
    authorize("training.faq.manage")
    title, origin, tag, retro = conversions.source_text(source, with_link=False)  # as the article will say
    form = FaqAnswerForm(formdata=None, title=title[:200], tags=tag or "") if request.method == "GET" \
        else FaqAnswerForm()
    try:
        conversions.refuse_answered_twice(source)
    except ServiceError as error:  # answered meanwhile: back to the board, where its link is
        apply_service_error(None, error)
        return redirect(_board_anchor(source), 303)
    if form.validate_on_submit():
        try:
            link = conversions.to_faq_article(source, current_user, form.title.data, form.answer.data,
                                              tags=form.tags.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_with_link(_("FAQ article %(ref)s is published and linked."),
                             conversions.faq_article_url(link.faq_article_id), _quoted(form.title.data)),
                  "success")
            return redirect(_board_anchor(source))
    return render_template("retros/faq_answer.html", form=form, retro=retro, source_title=title, origin=origin,
                           back=_board_anchor(source)), 422 if form.errors else 200


def _quoted(title: str) -> str:
    return _("“%(title)s”", title=title)


def _with_link(message: str, url: str, text: str) -> Markup:
    """A translated message whose %(ref)s becomes a link; everything else is escaped."""
    return escape(message) % {"ref": Markup('<a href="{}" class="alert-link">{}</a>').format(url, text)}
