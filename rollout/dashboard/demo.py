"""Demo rollout plan: 销售一组 as the pilot, two waves, then everyone; milestones; readiness
thresholds; adoption targets; a published ranking; and eight weeks of login history."""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import insert

from rollout.audit.models import AuditEntry
from rollout.dashboard import services
from rollout.dashboard.models import EVERYONE, PILOT, WAVE, AdoptionTarget, RolloutMilestone
from rollout.extensions import db
from rollout.timeutil import local_to_utc, utcnow


def load(ctx) -> None:
    today = ctx.today
    d = ctx.departments
    # The pilot team goes live first; its department follows in the first wave.
    d["sales-1"].go_live_on = ctx.pilot_go_live_on
    pilot, _ = services.save_phase(None, "试点：销售一组", PILOT, today - timedelta(days=21), today - timedelta(days=1),
                                   [d["sales-1"].id], "销售一组先行试用四周，每周回顾，问题当周解决。")
    wave1, _ = services.save_phase(None, "第一批：销售部、市场部、IT部", WAVE, today + timedelta(days=7),
                                   today + timedelta(days=28), [d["sales"].id, d["marketing"].id, d["it"].id],
                                   "试点经验推广到销售部其余团队，市场部同步上线线索管理。")
    wave2, _ = services.save_phase(None, "第二批：财务部", WAVE, today + timedelta(days=35), today + timedelta(days=50),
                                   [d["finance"].id], "报价审批与回款跟踪。")
    everyone, _ = services.save_phase(None, "全员上线", EVERYONE, today + timedelta(days=55),
                                      today + timedelta(days=70), [d["service"].id], "客服部上线后旧系统只读。")
    # Each milestone lies inside its phase; one concerns no phase (customers hear of the new quote form);
    # one of the pilot's is overdue.
    for phase, title, offset, is_done in (
            (pilot, "试点启动会", -21, True), (pilot, "试点中期回顾", -10, True),
            (pilot, "试点总结与上线决策会", -1, True), (pilot, "试点问题清单全部关闭", -3, False),
            (wave1, "第一批数据迁移校验", 8, False),
            (wave1, "第一批上线培训完成", 10, False), (wave2, "财务审批流程图定稿", 36, False),
            (everyone, "旧系统切换为只读", 70, False), (None, "通知客户启用新的报价单模板", 40, False)):
        db.session.add(RolloutMilestone(phase_id=phase.id if phase else None, title=title,
                                        due_on=today + timedelta(days=offset),
                                        done_on=today + timedelta(days=offset) if is_done else None))
    services.save_readiness_setting("training", 85, True)
    services.save_readiness_setting("faq", 5, False)
    db.session.add_all([AdoptionTarget(department_id=d["sales"].id, entries_per_week=12),
                        AdoptionTarget(department_id=d["marketing"].id, entries_per_week=5)])
    _login_history(ctx)
    # An administrator confirmed the sales department's role assignments before the pilot.
    reviewed_at = local_to_utc(datetime.combine(today - timedelta(days=10), time(10, 0)))
    for user in ctx.staff_of("sales", "sales-1", "sales-2"):
        user.roles_reviewed_at = reviewed_at
    db.session.flush()
    services.publish_ranking(d["sales"], ctx.users["sales.head"], today)


def _login_history(ctx) -> None:
    """Logins over the last eight weeks: the pilot team daily, others now and then; two reps of the
    pilot never logged in after go-live."""
    rng = random.Random(7)
    pilot_team = ctx.departments["sales-1"].id
    absent = set(ctx.absent_reps)
    rows = []
    for username, user in ctx.users.items():
        if username in absent:
            continue
        in_pilot = user.department_id == pilot_team
        last = None
        for days_ago in range(56, -1, -1):
            day = ctx.today - timedelta(days=days_ago)
            if day.weekday() >= 5:
                continue
            chance = 0.85 if (in_pilot and days_ago <= 21) else 0.1
            if rng.random() < chance:
                at = local_to_utc(datetime.combine(day, time(8 + rng.randint(0, 2), rng.randint(0, 59))))
                if at > utcnow():  # loading before 10:00 on a weekday: today's sign-ins are still to come
                    continue
                rows.append({"created_at": at, "user_id": user.id, "username": username, "ip": "10.0.8.23",
                             "action": "login", "entity": "session", "entity_id": username,
                             "department_id": user.department_id})
                last = at
        user.last_login_at = last
    if rows:
        db.session.execute(insert(AuditEntry), rows)
