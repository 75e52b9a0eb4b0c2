"""List pages of the output package: the same number of SQL statements whatever the data size."""
from sqlalchemy import select

from rollout.audit.services import record_event
from rollout.extensions import db
from rollout.notify.models import DepartmentRobot, OutboxMessage
from rollout.notify.services import notify, queue_message


def _fill(company, size):
    departments = list(company["departments"].values())
    for number in range(size):
        message = queue_message("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", f"消息{number}")
        message.status = "dead"
        message.last_error = "HTTP 502 Bad Gateway"
        db.session.add(message)
        db.session.add(DepartmentRobot(department_id=departments[number % len(departments)].id, kind="dingtalk",
                                       name=f"群{number}", target="https://oapi.dingtalk.com/robot/send?access_token=t"))
        record_event("export", entity="users", detail=f"xlsx rows={number}", user=company["admin"])
    notify([company["admin"]] * 1 + [company["head"]], "x", "通知", "")
    for _ in range(size):
        notify([company["admin"]], "x", "通知", "正文")
    db.session.commit()


def _statements(client, count_statements, url):
    with count_statements() as counter:
        response = client.get(url)
    assert response.status_code == 200, url
    return counter.count


def test_list_pages_cost_the_same_at_any_size(client_as, company, count_statements):
    admin = client_as("admin")
    urls = ["/admin/outbox?status=dead", "/admin/robots", "/notifications", "/reports/audit-summary",
            "/notifications/channels"]
    _fill(company, 3)
    small = {url: _statements(admin, count_statements, url) for url in urls}
    _fill(company, 30)
    large = {url: _statements(admin, count_statements, url) for url in urls}
    assert small == large


def test_outbox_tabs_and_labels(client_as, company):
    _fill(company, 2)
    page = client_as("admin").get("/admin/outbox").get_data(as_text=True)
    assert "消息0" in page and "WeCom" in page and "key=k" not in page
    assert "HTTP 502 Bad Gateway" in page
    assert db.session.scalar(select(OutboxMessage.status).limit(1)) == "dead"


def test_pages_in_chinese(app, company):
    from tests.conftest import login
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, company["admin"])
    assert "我的通知渠道" in client.get("/notifications/channels").get_data(as_text=True)
    assert "部门群机器人" in client.get("/admin/robots").get_data(as_text=True)
    assert "审计汇总报告" in client.get("/reports/audit-summary").get_data(as_text=True)
    audit = client.get("/audit/").get_data(as_text=True)
    assert "导出 Excel" in audit and "汇总报告" in audit


def test_audit_summary_is_scoped_and_the_pdf_is_audited(client_as, company):
    record_event("login", entity="session", user=company["staff"])  # 销售一组
    record_event("login", entity="session", user=company["other_staff"])  # 市场部
    db.session.commit()
    head_page = client_as("head").get("/reports/audit-summary").get_data(as_text=True)
    assert "staff" in head_page and "other_staff" not in head_page
    response = client_as("head").get("/reports/audit-summary.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    from rollout.audit.models import AuditEntry
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "download"))
    assert entry.entity == "audit-summary" and entry.username == "head"
    for role in ("lead", "trainer", "staff"):
        assert client_as(role).get("/reports/audit-summary.pdf").status_code == 403
