"""XSS in the feature modules: the corpus entered through the real forms of retros, interviews and
requirements, surveys, process maps (including the Graphviz drawing inlined in the page), the change
board and review agenda, and training sessions and attachments; then every page that shows them
opened in Chromium. No script may run and no payload may become live markup.

Several payloads share one record (``packed``), so each module needs only a handful of page loads."""
import re
from datetime import timedelta
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.timeutil import local_today, utcnow
from tests.reliability.test_xss import PAYLOADS, open_pages, packed, payload_groups

pytestmark = pytest.mark.browser

def _groups() -> list[list[str]]:
    """One group of payloads per record: its title holds them joined, its Markdown as paragraphs."""
    return payload_groups(200)


def _posted(response, what: str) -> str:
    """The redirect target of a form that took the payload; fails loudly when the form refused it."""
    if response.status_code not in (302, 303):
        messages = re.findall(r'class="(?:invalid-feedback[^"]*|alert[^"]*)"[^>]*>(.*?)<', response.get_data(as_text=True), re.S)
        raise AssertionError(f"{what}: HTTP {response.status_code} {[m.strip() for m in messages]}")
    return urlsplit(response.headers["Location"]).path


def _id_from(location: str) -> int:
    return int(location.rstrip("/").rsplit("/", 1)[-1])


def _check(page, live_server, username, paths, without_payloads=()):
    """Open ``paths`` as ``username``: no script may run, and every page except ``without_payloads``
    must show the payloads as text (or the test would prove nothing)."""
    # Outside a request the test's session takes SQLite's write lock on its first query (building
    # ``paths`` may have run one): let go, or the server could not log anyone in.
    db.session.commit()
    problems, shown, dialogs = open_pages(page, live_server, username, paths)
    assert not dialogs, dialogs
    assert not problems, "\n".join(problems)
    blank = set(paths) - set(shown) - set(without_payloads)
    assert not blank, f"no payload shown as text on {sorted(blank)}"


# --- retros -------------------------------------------------------------------------------------
def test_retro_cards(live_server, page, client_as, company):
    from rollout.retros.models import RetroActionItem, RetroCard
    lead, staff = client_as("lead"), client_as("staff")
    team = company["departments"]["sales1"]
    board = _posted(lead.post("/retros/new", data={
        "team_id": team.id, "title": packed(200)[0], "held_on": local_today().isoformat(), "cadence_days": "7",
        "template": "custom", "custom_columns": "\n".join(packed(60, prefix="列 ")[:6]), "vote_budget": "3",
        "facilitator_id": company["staff"].id}), "retro")
    retro_id = _id_from(board)
    from rollout.retros.models import Retro
    columns = [c.id for c in db.session.get(Retro, retro_id).columns]
    db.session.commit()
    for n, payload in enumerate(PAYLOADS):
        _posted(staff.post(f"/retros/{retro_id}/cards", data={
            "column_id": columns[n % len(columns)], "body": f"卡片{n:02d} {payload}"[:500],
            "tag": payload[:40]}), f"card {n}")
    _posted(staff.post(f"/retros/{retro_id}/transition", data={"action": "reveal"}), "reveal")
    cards = db.session.scalars(select(RetroCard.id).where(RetroCard.retro_id == retro_id)).all()
    db.session.commit()
    for n, text in enumerate(packed(300, prefix="行动 ")):
        _posted(staff.post(f"/retros/{retro_id}/actions", data={
            "title": text, "owner_id": company["staff"].id, "card_id": cards[n % len(cards)]}), f"action {n}")
    _posted(staff.post(f"/retros/{retro_id}/notes", data={"notes": "\n\n".join(PAYLOADS)}), "notes")
    assert db.session.query(RetroActionItem).count() == len(packed(300, prefix="行动 "))
    db.session.commit()

    _check(page, live_server, "staff", ["/retros/", f"/retros/{retro_id}", f"/retros/{retro_id}/summary",
                                        f"/retros/teams/{team.id}"])


# --- interviews and requirements ---------------------------------------------------------------------
def test_interview_notes_and_requirements(live_server, page, client_as, company):
    lead = client_as("lead")
    sales = company["departments"]["sales"]
    interviews, requirements = [], []
    for n, (group, title) in enumerate(zip(_groups(), packed(200), strict=True)):
        location = _posted(lead.post("/surveys/interviews/new", data={
            "title": title, "method": "interview", "held_on": local_today().isoformat(), "department_id": sales.id,
            "interviewee": packed(200)[-1 - n], "interviewee_id": "0", "role": "staff",
            "notes_markdown": f"# 访谈{n}\n\n" + "\n\n".join(group)}), f"interview {n}")
        interviews.append(_id_from(location))
        _posted(lead.post(location, data={"quote": "\n".join(group), "tags": group[0][:40]}), f"highlight {n}")
        location = _posted(lead.post("/surveys/requirements/new", data={
            "title": title, "description": "\n\n".join(group), "priority": "must",
            "department_ids": [sales.id], "roles": ["staff"], "owner_id": company["lead"].id}), f"requirement {n}")
        requirements.append(_id_from(location))

    pages = ["/surveys/interviews", "/surveys/interviews/tags", "/surveys/requirements"]
    pages += [f"/surveys/interviews/{i}" for i in interviews] + [f"/surveys/requirements/{i}" for i in requirements]
    _check(page, live_server, "lead", pages)


# --- surveys: question and choice labels -------------------------------------------------------------
def test_survey_question_and_choice_labels(live_server, page, client_as, company):
    from surveys.models import SurveyInvitation
    lead = client_as("lead")
    survey_id = _id_from(_posted(lead.post("/surveys/new", data={
        "title": packed(200)[0], "description": "\n\n".join(PAYLOADS), "department_id": "0",
        "audience_departments": [company["departments"]["sales"].id], "audience_roles": ["staff"]}), "survey"))
    options = "\n".join(f"选项{n} {payload}" for n, payload in enumerate(PAYLOADS, 1))  # each option worded differently
    questions = [("single", "q_single", packed(2000)[0], options), ("multiple", "q_multiple", "多选", options),
                 ("ranking", "q_rank", "排序", "\n".join(packed(200)[:4])),
                 ("likert", "q_likert", "评价", "同意\n一般\n不同意")]
    questions += [("text", f"q_text{n}", "\n".join(group), "") for n, group in enumerate(_groups())]
    for kind, name, label, choices in questions:
        _posted(lead.post(f"/surveys/{survey_id}/questions/new", data={
            "name": name, "type": kind, "label": label, "hint": label[:1000], "section_id": "0",
            "choices_text": choices, "rows_text": options if kind == "likert" else "",
            "condition_join": "and"}), f"question {name}")
    _posted(lead.post(f"/surveys/{survey_id}/invite"), "invite")
    _posted(lead.post(f"/surveys/{survey_id}/status", data={"status": "open"}), "open")
    from rollout.accounts.models import User
    # A personal link is its invitee's: the staff member answers theirs, another invitee opens theirs.
    tokens = dict(db.session.execute(select(User.username, SurveyInvitation.token).join(
        User, User.id == SurveyInvitation.user_id).where(SurveyInvitation.survey_id == survey_id)).all())
    db.session.commit()
    assert len(tokens) >= 2 and "staff" in tokens, tokens
    other = next(username for username in sorted(tokens) if username != "staff")
    respondent = client_as("staff")
    answers = {"q_single": "3", "q_multiple": ["1", "2", "5"], **{f"q_rank__{n}": str(n) for n in range(1, 5)},
               **{f"q_likert__{n}": str(1 + n % 3) for n in range(1, len(PAYLOADS) + 1)},
               **{f"q_text{n}": PAYLOADS[n] for n in range(len(_groups()))}}
    response = respondent.post(f"/surveys/respond/{tokens['staff']}", data=answers)
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:500])
    assert db.session.scalar(select(SurveyInvitation.has_responded).where(SurveyInvitation.token == tokens["staff"]))
    db.session.commit()

    pages = ["/surveys/list", f"/surveys/{survey_id}", f"/surveys/{survey_id}/results",
             f"/surveys/{survey_id}/questions/new"]
    _check(page, live_server, "lead", pages)
    _check(page, live_server, other, [f"/surveys/respond/{tokens[other]}"])

    # Exports carry the labels as data, never as a page a browser would run.
    for fmt in ("csv", "xlsx"):
        export = lead.get(f"/surveys/{survey_id}/responses.{fmt}")
        assert export.status_code == 200, fmt
        assert export.headers["Content-Disposition"].startswith("attachment")
        assert export.headers["X-Content-Type-Options"] == "nosniff" and "html" not in export.mimetype
    assert lead.get(f"/surveys/{survey_id}/xlsform").headers["Content-Disposition"].startswith("attachment")


# --- process maps: node names and edge labels, also inside the Graphviz SVG -------------------------
def test_process_map_node_names_and_edge_labels(live_server, page, client_as, company):
    from processmaps.models import Process, ProcessNode, ProcessVersion
    lead = client_as("lead")
    _posted(lead.post("/processes/new", data={
        "name": packed(120)[0], "department_id": company["departments"]["sales"].id, "lane_by": "role",
        "description": "\n\n".join(PAYLOADS)}), "process")
    process = db.session.scalar(select(Process))
    version = process.versions[0]
    process_id, version_id, number = process.id, version.id, version.number
    db.session.commit()
    names, roles = packed(120, prefix="步骤 "), packed(60)
    for n, name in enumerate(names):
        fields = {"kind": "task", "name": name, "owner_role": roles[n % len(roles)], "owner_user_id": "",
                  "department_id": "", "time_limit": f"{n + 1}个工作日",
                  "data_items": "\n".join(PAYLOADS[:10]), "notes": "\n\n".join(_groups()[n % len(_groups())]),
                  "subprocess_id": ""}
        _posted(lead.post(f"/processes/versions/{version_id}/nodes",
                          data={f"newnode-{key}": value for key, value in fields.items()}), f"node {n}")
    # A new map starts with a start and an end event; the payloads are in the steps.
    nodes = db.session.scalars(select(ProcessNode.id).where(ProcessNode.version_id == version_id,
                                                            ProcessNode.kind == "task").order_by(ProcessNode.id)).all()
    db.session.commit()
    assert len(nodes) == len(names)
    start, end = (db.session.scalar(select(ProcessNode.id).where(ProcessNode.version_id == version_id,
                                                                  ProcessNode.kind == kind)) for kind in ("start", "end"))
    db.session.commit()
    # One path start → every step → end (so the version can be approved), the payloads as conditions;
    # the conditions left over go on branches that skip a step.
    labels = packed(120)
    chain = list(zip(nodes, nodes[1:]))
    flows = [(start, nodes[0], ""), (nodes[-1], end, "")] + [
        (source, target, labels[n]) for n, (source, target) in enumerate(chain[:len(labels)])]
    flows += [(nodes[n], nodes[n + 2], label) for n, label in enumerate(labels[len(chain):])]
    for n, (source, target, label) in enumerate(flows):
        fields = {"source_id": source, "target_id": target, "label": label}
        if n % 3 == 0:
            fields["is_exception"] = "y"
        _posted(lead.post(f"/processes/versions/{version_id}/edges",
                          data={f"newedge-{key}": value for key, value in fields.items()}), f"edge {n}")
    for n, role in enumerate(roles):
        _posted(lead.post(f"/processes/versions/{version_id}/raci", data={
            "raci-node_id": nodes[n % len(nodes)], "raci-role": role, "raci-kind": "RACI"[n % 4]}), f"raci {n}")

    # Approve it and change a new draft, so the comparison page has the steps to show too.
    _posted(lead.post(f"/processes/versions/{version_id}/submit"), "submit")
    _posted(lead.post(f"/processes/versions/{version_id}/approve"), "approve")
    draft = _posted(lead.post(f"/processes/{process_id}/drafts"), "draft")
    draft_id = db.session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == process_id,
                                                                 ProcessVersion.number == number + 1))
    db.session.commit()
    _posted(lead.post(f"/processes/versions/{draft_id}/nodes", data={
        "newnode-kind": "task", "newnode-name": names[-1] + " 新", "newnode-owner_role": roles[0]}), "new step")

    pages = ["/processes/", f"/processes/{process_id}", f"/processes/{process_id}/v/{number}",
             f"/processes/{process_id}/v/{number}/raci", draft, f"/processes/{process_id}/compare"]
    pages += [f"/processes/nodes/{i}" for i in nodes]
    _check(page, live_server, "lead", pages)

    # The drawing served on its own is a download, and the BPMN file keeps every name as data.
    svg = lead.get(f"/processes/{process_id}/v/{number}/map.svg")
    assert svg.status_code == 200 and svg.headers["Content-Disposition"].startswith("attachment")
    drawing = ElementTree.fromstring(svg.data)
    assert not [element.tag for element in drawing.iter() if element.tag.endswith("}script")]
    attributes = [(name.rsplit("}", 1)[-1], value) for element in drawing.iter() for name, value in element.items()]
    assert not [a for a in attributes if a[0].startswith("on") or a[1].strip().lower().startswith("javascript:")]
    bpmn = lead.get(f"/processes/{process_id}/v/{number}/map.bpmn")
    assert bpmn.status_code == 200 and bpmn.headers["Content-Disposition"].startswith("attachment")
    document = ElementTree.fromstring(bpmn.data)
    written = {element.get("name") for element in document.iter() if element.get("name")}
    assert set(names) <= written, set(names) - written


# --- changes: the board and the review agenda --------------------------------------------------------
def test_change_board_and_agenda(live_server, page, client_as, company):
    from changes.models import ReviewWindow
    from rollout.notify.models import Notification
    now = utcnow()
    window = ReviewWindow(title="变更评审会", starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=1),
                          cutoff_at=now + timedelta(days=2))
    db.session.add(window)
    db.session.commit()
    window_id = window.id
    staff, lead = client_as("staff"), client_as("lead")
    requests = []
    for n, (title, group) in enumerate(zip(packed(200), _groups(), strict=True)):
        location = _posted(staff.post("/changes/new", data={
            "title": title, "description": "\n\n".join(group), "reason": "\n".join(group), "kind": "normal",
            "urgency": "medium", "impact": "low"}), f"change {n}")
        requests.append(_id_from(location))
        if n % 2 == 0:  # half wait for the window, half stay drafts: both columns of the board
            _posted(staff.post(f"/changes/{requests[-1]}/move", data={"to_state": "submitted", "comment": group[0]}),
                    f"submit {n}")
    _posted(lead.post(f"/changes/windows/{window_id}/agenda"), "agenda")
    assert db.session.query(Notification).count() >= 1
    db.session.commit()

    _check(page, live_server, "lead", ["/changes/board", f"/changes/windows/{window_id}",
                                       "/notifications"])
    _check(page, live_server, "staff", ["/changes/board"])


# --- training: session titles and attachment names ---------------------------------------------------
def test_training_session_titles_and_attachment_names(live_server, page, client_as, company):
    from io import BytesIO

    from training.models import Course, Track
    trainer = client_as("trainer")
    track = Track(name="销售代表-基础", tier="basic", role="staff", department=company["departments"]["sales"],
                  due_days_before_go_live=7, seed_lead_days=7)
    course = Course(track=track, position=1, title="报价审批流程", duration_minutes=60)
    db.session.add_all([track, course])
    db.session.commit()
    course_id, trainer_id = course.id, company["trainer"].id
    sessions = []
    start = (utcnow() + timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
    for n, (title, group) in enumerate(zip(packed(200), _groups(), strict=True)):
        starts = start + timedelta(days=n)
        location = _posted(trainer.post("/training/sessions/new", data={
            "title": title, "course_id": course_id, "kind": "lecture", "trainer_id": trainer_id,
            "starts_at": (starts + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (starts + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M"), "capacity": "20",
            "location": group[0][:200], "description_markdown": "\n\n".join(group), "target_roles": ["staff"],
            "schedule": "1"}), f"session {n}")
        sessions.append(_id_from(location))
    # File names lose everything up to the last slash, so only payloads without one keep their markup;
    # double quotes become single ones (a browser would send them as %22 in the form data).
    named = [payload.replace('"', "'") for payload in PAYLOADS if "/" not in payload and "\\" not in payload]
    for n, payload in enumerate(named):
        _posted(trainer.post(f"/training/courses/{course_id}/attachments",
                             data={"file": (BytesIO("速查卡\n".encode()), f"附件{n:02d} {payload}.md")},
                             content_type="multipart/form-data"), f"attachment {n}")

    pages = ["/training/", "/training/sessions", f"/training/courses/{course_id}"]
    pages += [f"/training/sessions/{i}" for i in sessions]
    _check(page, live_server, "staff", pages)
