"""`rollout demo-data`: a realistic company, then every module's own demo data."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import force_locale
from sqlalchemy import func, select

from rollout.accounts.models import Department, User
from rollout.accounts.passwords import hash_password
from rollout.audit.services import acting_as
from rollout.extensions import db
from rollout.i18n import language_of
from rollout.timeutil import local_today

DEMO_PASSWORD = "rollout-demo-2026"

# (username, display name, department code, roles, is seed user)
DEMO_USERS = [
    ("admin", "系统管理员 赵磊", "it", ["admin"], False),
    ("lead", "项目负责人 周燕", "it", ["lead"], False),
    ("trainer", "培训师 刘娜", "service", ["trainer"], False),
    ("sales.head", "销售总监 王强", "sales", ["head"], False),
    ("team1.head", "销售一组组长 陈杰", "sales-1", ["head", "staff"], False),
    ("team2.head", "销售二组组长 林芳", "sales-2", ["head", "staff"], False),
    ("rep", "销售代表 张伟", "sales-1", ["staff"], True),
    ("rep2", "销售代表 李娜", "sales-1", ["staff"], False),
    ("rep3", "销售代表 王磊", "sales-1", ["staff"], False),
    ("rep4", "销售代表 刘洋", "sales-1", ["staff"], False),
    ("rep5", "销售代表 杨静", "sales-1", ["staff"], False),
    ("rep6", "销售代表 黄勇", "sales-1", ["staff"], False),
    ("rep7", "销售代表 赵敏", "sales-2", ["staff"], True),
    ("rep8", "销售代表 吴昊", "sales-2", ["staff"], False),
    ("rep9", "销售代表 周婷", "sales-2", ["staff"], False),
    ("rep10", "销售代表 徐斌", "sales-2", ["staff"], False),
    ("rep11", "销售代表 孙悦", "sales-2", ["staff"], False),
    ("rep12", "销售代表 马超", "sales-2", ["staff"], False),
    ("mkt.head", "市场部经理 胡雪", "marketing", ["head"], False),
    ("mkt1", "市场专员 郭鹏", "marketing", ["staff"], True),
    ("mkt2", "市场专员 何琳", "marketing", ["staff"], False),
    ("mkt3", "市场专员 高远", "marketing", ["staff"], False),
    ("mkt4", "市场专员 罗佳", "marketing", ["staff"], False),
    ("fin.head", "财务经理 郑华", "finance", ["head"], False),
    ("fin1", "会计 梁晨", "finance", ["staff"], True),
    ("fin2", "出纳 宋雨", "finance", ["staff"], False),
    ("fin3", "财务专员 谢丹", "finance", ["staff"], False),
    ("svc.head", "客服经理 韩梅", "service", ["head"], False),
    ("svc1", "客服专员 唐亮", "service", ["staff"], False),
    ("svc2", "客服专员 冯雪", "service", ["staff"], False),
    ("svc3", "客服专员 董丽", "service", ["staff"], False),
    ("svc4", "客服专员 萧然", "service", ["staff"], False),
    ("it.head", "IT经理 程伟", "it", ["head"], False),
    ("it1", "系统工程师 曹阳", "it", ["staff"], True),
    ("it2", "数据工程师 袁博", "it", ["staff"], False),
    ("it3", "运维工程师 邓凯", "it", ["staff"], False),
    ("trainer2", "培训师 许静", "it", ["trainer"], False),
    ("lead2", "项目助理 傅佳", "it", ["lead"], False),
    ("rep13", "销售代表 沈涛", "sales-1", ["staff"], False),
    ("rep14", "销售代表 彭丽", "sales-2", ["staff"], False),
]


@dataclass
class DemoContext:
    """What module demos build on: the company's departments and users, and 'today'."""
    today: date
    departments: dict[str, Department] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    password: str = DEMO_PASSWORD
    #: Two reps of the pilot team who have not used the system since it went live: their records stop there.
    absent_reps: tuple[str, ...] = ("rep6", "rep13")

    @property
    def pilot_go_live_on(self) -> date:
        """The day the pilot team (销售一组) went live."""
        return self.today - timedelta(days=14)

    def staff_of(self, *codes: str) -> list[User]:
        ids = {self.departments[c].id for c in codes}
        return [u for u in self.users.values() if u.department_id in ids]


def _departments(today: date) -> dict[str, Department]:
    company = Department(name="华东智联科技有限公司", code="company", kind="company")
    db.session.add(company)
    result = {"company": company}
    for code, name, go_live in (("sales", "销售部", 21), ("marketing", "市场部", 21), ("finance", "财务部", 45),
                                ("service", "客服部", 60), ("it", "IT部", 14)):
        result[code] = Department(name=name, code=code, kind="department", parent=company,
                                  go_live_on=today + timedelta(days=go_live))
    for code, name in (("sales-1", "销售一组"), ("sales-2", "销售二组")):
        result[code] = Department(name=name, code=code, kind="team", parent=result["sales"])
    db.session.add_all(result.values())
    db.session.flush()
    return result


def load_demo(force: bool = False) -> dict | None:
    """Create the demo company and call each package's ``demo.load(ctx)``; None if users exist."""
    if not force and db.session.scalar(select(func.count()).select_from(User)):
        return None
    today = local_today()
    ctx = DemoContext(today=today)
    ctx.departments = _departments(today)
    # One hash for all demo accounts: hashing forty times would only slow the demo down.
    password_hash = hash_password(DEMO_PASSWORD)
    for username, name, dept_code, roles, is_seed in DEMO_USERS:
        user = User(username=username, display_name=name, email=f"{username}@example.com",
                    password_hash=password_hash, department=ctx.departments[dept_code], is_seed_user=is_seed)
        user.set_roles(roles)
        db.session.add(user)
        ctx.users[username] = user
    db.session.flush()
    from rollout import existing_modules
    # Text the services write while loading (a merge note, a retro's link, an import's rejected row)
    # is stored and read by everyone: write it in the company's language, not the terminal's English.
    with acting_as(ctx.users["admin"]), force_locale(language_of(None)):
        for name in existing_modules("demo"):
            importlib.import_module(name).load(ctx)
            db.session.flush()
    db.session.commit()
    return {"password": DEMO_PASSWORD,
            "users": [(u, f"{n} ({', '.join(r)})") for u, n, _d, r, _s in DEMO_USERS]}
