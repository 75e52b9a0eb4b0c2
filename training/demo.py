"""Demo data: tracks for four roles, a month of sessions (some full, with a waitlist), attendance
for past sessions, seed users' questions with their follow-ups and twenty FAQ articles."""
from __future__ import annotations

import os
import secrets
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from rollout.extensions import db
from rollout.timeutil import local_to_utc, utcnow
from training.models import (ATTENDED, CANCELLED, ENROLLED, SESSION_CANCELLED, SESSION_DRAFT, SESSION_SCHEDULED,
                             SUPPORT_ANSWERED, SUPPORT_ESCALATED, SUPPORT_OPEN, SUPPORT_SOLVED, WAITLISTED, Course,
                             CourseAttachment, CourseCompletion, Enrolment, FaqArticle, FaqSearch, FaqTag, FaqVote,
                             OverdueReminder, QuizAttempt, QuizQuestion, SupportReply, SupportRequest, Track,
                             TrainingSession)

# name, tier, role, department code, due days before go-live, [(course title, minutes, material, quiz)]
TRACKS = [
    ("销售代表-基础", "basic", "staff", "sales", 7, [
        ("系统登录与客户档案", 90, "## 学习目标\n\n- 登录新系统、修改初始密码\n- 新建客户档案，填写**统一社会信用代码**和联系人\n- 查重：同名客户如何合并\n\n> 练习：把你手上最重要的三个客户录入系统。", None),
        ("商机与销售计划录入", 120, "## 商机阶段\n\n| 阶段 | 赢率 |\n|---|---|\n| 初步接洽 | 10% |\n| 需求确认 | 30% |\n| 方案报价 | 60% |\n| 商务谈判 | 80% |\n\n每周五前更新本周商机和下月销售计划。", [
            ("商机进入“方案报价”阶段后，默认赢率是多少？", ["10%", "30%", "60%", "80%"], 2),
            ("销售计划最晚什么时候更新？", ["每天下班前", "每周五前", "每月月底", "不需要更新"], 1),
        ]),
        ("报价审批流程", 60, "## 报价审批\n\n1. 在商机下新建报价单\n2. 折扣低于 9 折需要销售经理审批，低于 8 折需要销售总监审批\n3. 审批通过后才能导出 PDF 发给客户", None),
    ]),
    ("销售经理-进阶", "advanced", "head", "sales", 28, [
        ("团队销售计划与审批", 90, "## 经理工作台\n\n- 查看团队的销售计划完成率\n- 审批报价和特价申请\n- 每周例会用**漏斗报表**复盘", None),
        ("销售漏斗报表解读", 60, "## 漏斗报表\n\n关注各阶段转化率和停留时间，找出卡住的商机。", None),
    ]),
    ("客服专员-基础", "basic", "staff", "service", 10, [
        ("客户档案查询与服务工单", 90, "## 服务工单\n\n- 按手机号或公司名查询客户\n- 新建服务工单并指派给销售代表跟进", None),
    ]),
    ("财务人员-基础", "basic", "staff", "finance", 10, [
        ("回款登记与对账", 60, "## 回款\n\n在合同下登记回款，系统自动更新应收余额。", None),
        ("开票申请审批", 45, "## 开票\n\n销售提交开票申请后，财务核对合同与回款再审批。", None),
    ]),
    ("系统管理员", "admin", "admin", None, 21, [
        ("用户、角色与权限", 120, "## 权限原则\n\n- 最小权限：销售代表只看自己的客户\n- 部门经理看本部门\n- 每季度复核一次角色分配", [
            ("销售代表默认能看到哪些客户？", ["全公司的客户", "本部门的客户", "自己负责的客户"], 2),
        ]),
        ("数据导入与清洗", 90, "## 导入\n\n先用模板导入客户，再导入联系人和商机；导入前清洗重复客户和无效手机号。", None),
    ]),
]

FAQ = [
    ("如何提交报价审批？", "quotes", "staff", "报价,审批",
     "在商机页面点击**新建报价**，填好产品和折扣后点**提交审批**。折扣低于 9 折时系统会自动发给销售经理，低于 8 折再发给销售总监。"),
    ("报价审批被驳回后怎么办？", "quotes", "staff", "报价,驳回",
     "打开报价单查看驳回意见，修改后重新提交即可，之前的审批记录会保留。"),
    ("为什么我看不到同事的客户？", "permissions", "staff", "权限,客户",
     "销售代表只能看到自己负责的客户。需要协作时请让部门经理把你加为客户的协作人。"),
    ("如何合并重复的客户档案？", "customers", "staff", "客户,查重",
     "在客户列表勾选两个重复的客户，点击**合并**，选择保留哪一方的字段。合并后商机和联系人会自动归到保留的客户下。"),
    ("客户的统一社会信用代码填错了能改吗？", "customers", "staff", "客户",
     "可以。在客户详情页点击编辑修改，系统会记录修改历史。"),
    ("商机阶段和赢率是什么关系？", "opportunities", "staff", "商机,赢率",
     "每个阶段有默认赢率：初步接洽 10%、需求确认 30%、方案报价 60%、商务谈判 80%。你可以按实际情况调整。"),
    ("商机输单后要填写什么？", "opportunities", "staff", "商机,输单,丢单",
     "把阶段改为**输单**，并选择输单原因（价格、竞品、需求取消等），便于经理复盘。"),
    ("每周销售计划什么时候提交？", "plans", "staff", "销售计划",
     "每周五 18:00 前更新本周完成情况和下周计划。部门经理周一上午审阅。"),
    ("经理如何审批团队的销售计划？", "plans", "head", "销售计划,审批",
     "在**经理工作台**的“待审批”中逐条查看，可批量通过，也可以退回并写明原因。"),
    ("如何导出本月的销售漏斗报表？", "reports", "head", "报表,导出",
     "进入**报表 → 销售漏斗**，选择月份后点击右上角的导出，支持 Excel 和 PDF。"),
    ("报表里的金额单位是什么？", "reports", "", "报表",
     "所有金额单位均为人民币元，保留两位小数。"),
    ("手机上怎么登录系统？", "mobile", "", "手机,登录",
     "在企业微信工作台找到“销售管理”应用，首次使用需绑定工号。"),
    ("手机端可以录入拜访记录吗？", "mobile", "staff", "手机,拜访",
     "可以。在客户详情页点击**写跟进**，支持语音转文字和拍照上传。"),
    ("忘记密码怎么办？", "permissions", "", "密码,登录",
     "在登录页点击“忘记密码”，或联系本部门的种子用户，由 IT 部重置。"),
    ("如何批量导入老系统的客户？", "data", "admin", "导入,数据",
     "管理员在**导入**页面下载模板，按模板整理后上传；系统会先做清洗预览，确认无误后再正式导入。"),
    ("导入时提示手机号无效怎么处理？", "data", "admin", "导入,手机号",
     "系统会标出格式不正确的号码，可在预览中直接修改，或导出问题清单修正后重新上传。"),
    ("如何给新员工开通账号？", "permissions", "admin", "账号,权限",
     "管理员在**用户**页面新建账号，选择部门和角色。销售代表默认角色为“员工”。"),
    ("开票申请需要哪些材料？", "quotes", "staff", "开票,财务",
     "需要已签订的合同编号、开票抬头和税号。财务核对回款后审批。"),
    ("回款登记后应收余额没变化？", "data", "staff", "回款,财务",
     "回款需财务确认后才会冲减应收，一般在一个工作日内完成。"),
    ("遇到问题先找谁？", "", "", "种子用户,支持",
     "先查本知识库；查不到就在**求助**页面提问，问题会先发给本部门的种子用户，超过 24 小时没有回复会自动转给项目组。"),
]

# (requester, subject, module, answered by seed after hours or None, escalated)
QUESTIONS = [
    ("rep2", "报价单里怎么添加赠品？", "quotes", 3, False),
    ("rep3", "客户地址可以填多个吗？", "customers", 5, False),
    ("rep4", "商机可以转给别的同事吗？", "opportunities", None, False),
    ("rep8", "销售计划提交后还能修改吗？", "plans", 2, False),
    ("rep9", "手机端看不到报表菜单", "mobile", None, True),
    ("mkt2", "市场活动带来的线索在哪里看？", "customers", 6, False),
    ("fin2", "如何导出本月回款明细？", "reports", 1, False),
    ("svc1", "客服能不能查看客户的合同？", "permissions", None, True),
    ("svc2", "服务工单怎么转给销售？", "customers", None, True),
]


def _at(day, hour, minute=0) -> datetime:
    return local_to_utc(datetime.combine(day, time(hour, minute)))


def load(ctx) -> None:
    users, departments, today = ctx.users, ctx.departments, ctx.today
    trainer, trainer2 = users["trainer"], users["trainer2"]

    tracks: dict[str, Track] = {}
    courses: dict[tuple[str, int], Course] = {}
    for name, tier, role, dept_code, due_days, course_rows in TRACKS:
        track = Track(name=name, tier=tier, role=role, department=departments[dept_code] if dept_code else None,
                      is_required=True, due_days_before_go_live=due_days, seed_lead_days=7,
                      description=f"{name}：按角色分层的上线培训，完成后才能独立使用系统。")
        db.session.add(track)
        tracks[name] = track
        previous = None
        for position, (title, minutes, material, quiz) in enumerate(course_rows, start=1):
            course = Course(track=track, position=position, title=title, duration_minutes=minutes,
                            material_markdown=material, prerequisite=previous, pass_mark=80 if quiz else None)
            for number, (prompt, options, correct) in enumerate(quiz or [], start=1):
                course.questions.append(QuizQuestion(position=number, prompt=prompt, options_text="\n".join(options),
                                                     correct_option=correct))
            db.session.add(course)
            courses[(name, position)] = course
            previous = course
    db.session.add(Track(name="市场专员-进阶", tier="advanced", role="staff", department=departments["marketing"],
                         is_required=False, description="线索管理与市场活动效果分析（选修）。"))
    db.session.flush()

    sales_reps = [users[f"rep{n}" if n > 1 else "rep"] for n in range(1, 15)]
    # (day offset, (track, course position) or None, title, kind, room, online, trainer, capacity, people, waitlist)
    plan = [
        (-13, ("销售代表-基础", 1), None, "lecture", "培训室A", "", trainer, 12, sales_reps[:10], []),
        (-11, ("系统管理员", 1), None, "hands_on", "机房201", "", trainer2, 6, [users["admin"]], []),
        (-9, ("销售代表-基础", 1), None, "hands_on", "培训室A", "", trainer, 10, sales_reps[10:] + [users["team1.head"], users["team2.head"]], []),
        (-7, ("销售经理-进阶", 1), None, "lecture", "会议室3", "", trainer, 8, [users["team1.head"], users["team2.head"]], []),
        (-6, ("客服专员-基础", 1), None, "lecture", "培训室B", "", trainer2, 8, [users["svc1"], users["svc2"], users["svc3"]], []),
        (-4, ("销售代表-基础", 2), None, "drill", "培训室A", "", trainer, 10, [users["rep"], users["rep7"], users["rep2"], users["rep3"], users["rep8"], users["rep11"]], []),
        (-3, ("销售代表-基础", 3), None, "lecture", "培训室A", "", trainer, 10, [users["rep"], users["rep7"], users["rep2"], users["rep3"], users["rep8"]], []),
        (-5, ("财务人员-基础", 2), None, "lecture", "会议室3", "", trainer2, 6, [users["fin1"], users["fin3"]], []),
        (-2, ("财务人员-基础", 1), None, "lecture", "会议室3", "", trainer2, 6, [users["fin1"], users["fin2"]], []),
        (-1, None, "上线答疑：销售计划填报", "qa", "", "https://meeting.example.com/j/80231", trainer, 50, [users["rep4"], users["rep9"], users["mkt1"]], []),
        (1, ("销售代表-基础", 2), None, "drill", "培训室A", "", trainer, 8,
         [users[u] for u in ("rep4", "rep5", "rep6", "rep9", "rep10", "rep11", "rep12", "rep13")],
         [users["rep14"], users["team1.head"], users["team2.head"]]),
        (2, ("销售代表-基础", 3), None, "lecture", "培训室A", "", trainer, 10, [users[u] for u in ("rep4", "rep9", "rep10")], []),
        (3, ("销售经理-进阶", 2), None, "lecture", "会议室3", "", trainer, 6, [users["team1.head"]], []),
        (5, ("系统管理员", 2), None, "hands_on", "机房201", "", trainer2, 4, [users[u] for u in ("admin", "it1", "it2", "it3")], [users["lead"]]),
        (7, ("客服专员-基础", 1), None, "hands_on", "培训室B", "", trainer2, 6, [users["svc4"], users["svc.head"]], []),
        (9, ("财务人员-基础", 2), None, "lecture", "会议室3", "", trainer2, 6, [users["fin1"], users["fin2"]], []),
        (12, ("销售代表-基础", 1), None, "lecture", "培训室A", "", trainer, 15, [], []),
        (15, None, "上线前答疑：报价与审批", "qa", "", "https://meeting.example.com/j/80277", trainer, 60, [users["rep5"]], []),
    ]
    now = local_to_utc(datetime.combine(today, time(9, 0)))
    attendance_cycle = ["present", "present", "present", "late", "present", "absent", "present", "excused"]
    completions: set[tuple[int, int]] = set()
    for offset, course_key, title, kind, room, online, who, capacity, people, waiting in plan:
        day = today + timedelta(days=offset)
        course = courses[course_key] if course_key else None
        starts = _at(day, 14 if offset % 2 else 9, 30 if offset % 2 else 0)
        session = TrainingSession(
            course=course, title=title or course.title, kind=kind, status=SESSION_SCHEDULED, trainer=who,
            starts_at=starts, ends_at=starts + timedelta(minutes=course.duration_minutes if course else 60),
            location=room, online_url=online, capacity=capacity, signup_deadline_at=starts - timedelta(days=1),
            cancel_deadline_at=starts - timedelta(days=1),
            target_roles=course.track.role if course else "",
            description_markdown="请携带笔记本电脑，提前 10 分钟到场。" if room else "线上会议，链接见上方。",
            reminded_at=starts - timedelta(hours=20) if offset < 0 else None)
        if course is not None and course.track.department is not None:
            session.departments = [course.track.department]
            # Finance's own sessions (quote approval, invoicing) admit finance staff only.
            session.is_audience_only = course.track.department.code == "finance"
        db.session.add(session)
        signed_up = starts - timedelta(days=5)
        for index, person in enumerate(people):
            enrolment = Enrolment(session=session, user_id=person.id, status=ENROLLED,
                                  created_at=signed_up + timedelta(minutes=index))
            if person.username == "rep9" and offset == 2:
                enrolment.assigned_by_id = users["team1.head"].id
            if offset < 0:
                enrolment.attendance = attendance_cycle[(index + offset) % len(attendance_cycle)]
                if course is not None and enrolment.attendance in ATTENDED:
                    if course.questions:
                        db.session.add(QuizAttempt(course_id=course.id, user_id=person.id, score=100, is_passed=True,
                                                   created_at=starts + timedelta(hours=2)))
                    completions.add((person.id, course.id))
            db.session.add(enrolment)
        for index, person in enumerate(waiting):
            db.session.add(Enrolment(session=session, user_id=person.id, status=WAITLISTED,
                                     created_at=signed_up + timedelta(hours=2, minutes=index),
                                     waitlisted_at=signed_up + timedelta(hours=2, minutes=index)))
    for user_id, course_id in sorted(completions):
        db.session.add(CourseCompletion(user_id=user_id, course_id=course_id, completed_at=now - timedelta(days=1)))

    cancelled = TrainingSession(course=courses[("销售代表-基础", 3)], title="报价审批流程（改期）", kind="lecture",
                                status=SESSION_CANCELLED, trainer=trainer, starts_at=_at(today + timedelta(days=4), 9),
                                ends_at=_at(today + timedelta(days=4), 10), location="培训室A", capacity=10,
                                sequence=1, target_roles="staff")
    db.session.add(cancelled)
    db.session.add(Enrolment(session=cancelled, user_id=users["rep6"].id, status=CANCELLED,
                             cancelled_at=now - timedelta(days=1)))
    db.session.add(TrainingSession(
        title="变更培训：报价折扣审批规则调整", kind="lecture", status=SESSION_DRAFT, capacity=30,
        target_roles="head,staff", description_markdown="本次发布调整了：\n\n- 报价审批（折扣 9 折以下需经理审批）",
        departments=[departments["sales"]]))

    _after_release_session(trainer, today)
    _follow_ups(users, courses, today, now)
    _attachment(courses[("销售代表-基础", 3)], trainer)
    # The admin track is overdue for the administrator: last week's reminder went out.
    db.session.add(OverdueReminder(user_id=users["admin"].id, track_id=tracks["系统管理员"].id,
                                   reminded_on=today - timedelta(days=2)))
    _faq_and_support(ctx, now)
    db.session.flush()


def _after_release_session(trainer, today) -> None:
    """The session drafted when the demo's release went live, held two days ago: most of the people it is
    for attended and are trained on the release; the release's page shows who still needs it."""
    from training.services import session_audience
    session = db.session.scalar(select(TrainingSession).where(TrainingSession.release_id.is_not(None),
                                                              TrainingSession.status == SESSION_DRAFT)
                                .order_by(TrainingSession.id).limit(1))
    if session is None:  # the changes package is not installed
        return
    starts = _at(today - timedelta(days=2), 16)
    session.status, session.trainer = SESSION_SCHEDULED, trainer
    session.starts_at, session.ends_at, session.location = starts, starts + timedelta(minutes=45), "培训室A"
    audience = sorted(session_audience(session), key=lambda user: user.username)
    marks = ["present", "present", "late", "present", "absent", "present"]
    for index, person in enumerate(audience[:min(session.capacity, max(1, len(audience) * 3 // 4))]):
        db.session.add(Enrolment(session=session, user_id=person.id, status=ENROLLED,
                                 created_at=starts - timedelta(days=1), attendance=marks[index % len(marks)]))


def _follow_ups(users, courses, today, now) -> None:
    """What `rollout training remind` follows up on: yesterday's session whose attendance the trainer has not
    recorded (the heads' completion waits), tomorrow's session whose sign-up closed with two reps still on the
    waitlist (another session of the course is open), and tomorrow's Q&A nobody signed up for. The job runs once
    here, so the demo's inboxes show its notices."""
    trainer = users["trainer"]
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    unrecorded = TrainingSession(
        course=courses[("销售经理-进阶", 2)], title="销售漏斗报表解读（补课）", kind="lecture", status=SESSION_SCHEDULED,
        trainer=trainer, starts_at=_at(yesterday, 16), ends_at=_at(yesterday, 17), location="会议室3", capacity=6,
        target_roles="head", reminded_at=_at(yesterday, 9))
    closed = TrainingSession(
        course=courses[("销售代表-基础", 3)], title="报价审批流程（小班）", kind="lecture", status=SESSION_SCHEDULED,
        trainer=trainer, starts_at=_at(tomorrow, 9), ends_at=_at(tomorrow, 10), location="培训室B", capacity=2,
        signup_deadline_at=_at(yesterday, 18), cancel_deadline_at=_at(yesterday, 18), target_roles="staff")
    empty = TrainingSession(
        title="上线答疑：客户数据导入", kind="qa", status=SESSION_SCHEDULED, trainer=trainer,
        starts_at=_at(tomorrow, 11), ends_at=_at(tomorrow, 12), online_url="https://meeting.example.com/j/80305",
        capacity=40, description_markdown="线上会议，链接见上方。")
    db.session.add_all([unrecorded, closed, empty])
    for index, username in enumerate(("team2.head", "sales.head")):
        db.session.add(Enrolment(session=unrecorded, user_id=users[username].id, status=ENROLLED,
                                 created_at=now - timedelta(days=4, minutes=-index)))
    for index, username in enumerate(("rep5", "rep11")):
        db.session.add(Enrolment(session=closed, user_id=users[username].id, status=ENROLLED,
                                 created_at=now - timedelta(days=3, minutes=-index)))
    for index, username in enumerate(("rep12", "rep14")):
        waited = now - timedelta(days=2, minutes=-index)
        db.session.add(Enrolment(session=closed, user_id=users[username].id, status=WAITLISTED, created_at=waited,
                                 waitlisted_at=waited))
    db.session.flush()
    from training.follow_up import follow_up_sessions
    follow_up_sessions()


CHEAT_SHEET = """# 报价审批速查卡

| 折扣 | 审批人 |
|---|---|
| 9 折及以上 | 无需审批 |
| 8 折至 9 折 | 销售经理 |
| 8 折以下 | 销售总监 |
"""


def _attachment(course, uploader) -> None:
    """A small cheat sheet on disk, attached to the quote-approval course."""
    folder = os.path.join(current_app.config["UPLOAD_FOLDER"], "training")
    os.makedirs(folder, exist_ok=True)
    stored = secrets.token_hex(16) + ".md"
    data = CHEAT_SHEET.encode("utf-8")
    with open(os.path.join(folder, stored), "wb") as handle:
        handle.write(data)
    db.session.add(CourseAttachment(course_id=course.id, filename="报价审批速查卡.md", stored_name=stored,
                                    size=len(data), uploaded_by_id=uploader.id))


def _faq_and_support(ctx, now: datetime) -> None:
    users = ctx.users
    articles = []
    for index, (title, module, role, tags, body) in enumerate(FAQ):
        article = FaqArticle(title=title, body_markdown=body, module=module, role=role, source="manual",
                             author_id=users["trainer"].id, view_count=(len(FAQ) - index) * 7 % 53 + 3,
                             created_at=now - timedelta(days=20 - index % 10), updated_at=now - timedelta(days=index % 10))
        article.tag_rows = [FaqTag(tag=tag) for tag in tags.split(",")]
        db.session.add(article)
        articles.append(article)
    db.session.flush()
    voters = [users[u] for u in ("rep2", "rep3", "rep4", "mkt2", "fin2", "svc1")]
    for index, article in enumerate(articles[:8]):
        helpful = 0
        for number, voter in enumerate(voters[: 3 + index % 4]):
            is_helpful = (number + index) % 5 != 0
            helpful += is_helpful
            db.session.add(FaqVote(article_id=article.id, user_id=voter.id, is_helpful=is_helpful))
        article.helpful_count = helpful
        article.unhelpful_count = 3 + index % 4 - helpful
    for query, times in (("离线模式", 4), ("发票红冲", 2), ("合同模板", 3), ("钉钉打卡", 1)):
        for number in range(times):
            db.session.add(FaqSearch(query=query, result_count=0, user_id=users["rep5"].id,
                                     created_at=now - timedelta(days=number, hours=number)))
    db.session.add(FaqSearch(query="报价审批", result_count=3, user_id=users["rep2"].id, created_at=now))

    seed_of = {"sales-1": users["rep"], "sales-2": users["rep7"], "marketing": users["mkt1"],
               "finance": users["fin1"], "it": users["it1"]}
    codes = {d.id: code for code, d in ctx.departments.items()}
    asked = {}
    for index, (username, subject, module, hours, escalated) in enumerate(QUESTIONS):
        requester = users[username]
        code = codes[requester.department_id]
        seed = seed_of.get(code)
        created = now - timedelta(days=9 - index, hours=3)
        if hours is None and not escalated:
            created = utcnow() - timedelta(hours=2)  # still within the seed user's time to answer
        department = ctx.departments["sales"] if code.startswith("sales") else requester.department
        request = SupportRequest(requester_id=requester.id, department_id=department.id,
                                 seed_user_id=seed.id if seed else None, subject=subject, module=module,
                                 body_markdown="新系统里找不到入口，麻烦指点一下。", created_at=created,
                                 status=SUPPORT_OPEN)
        if escalated:
            request.status = SUPPORT_ESCALATED
            request.escalated_at = created + timedelta(hours=24 if seed else 0)
        if hours is not None:
            request.status = SUPPORT_ANSWERED
            request.answered_at = created + timedelta(hours=hours)
            request.answered_by_id = seed.id
            request.answer_markdown = "在对应页面右上角的 **更多** 菜单里可以找到，我下午过来给你演示一下。"
        db.session.add(request)
        asked[username] = request
    db.session.flush()
    _conversations(ctx, asked, articles)


def _conversations(ctx, asked: dict, articles: list) -> None:
    """Follow-ups: one answer that helped (solved), one that did not (reopened an hour ago), and a question
    asked from an FAQ article voted not helpful."""
    users, recent = ctx.users, utcnow() - timedelta(hours=1)
    helped = asked["rep2"]
    helped.replies.append(SupportReply(author_id=users["rep2"].id, body_markdown="找到了，谢谢！",
                                       created_at=helped.answered_at + timedelta(hours=1)))
    helped.status, helped.solved_at = SUPPORT_SOLVED, helped.answered_at + timedelta(hours=1)
    # Reopened recently, so the seed user still has time to answer before the rollout team takes over.
    not_helped = asked["rep8"]
    not_helped.replies.append(SupportReply(author_id=users["rep8"].id, created_at=recent,
                                           body_markdown="“更多”菜单里只有导出，没有修改。计划已经提交了，还能改吗？"))
    not_helped.status, not_helped.reopened_at = SUPPORT_OPEN, recent
    article = articles[0]
    db.session.add(FaqVote(article_id=article.id, user_id=users["rep5"].id, is_helpful=False))
    article.unhelpful_count += 1
    db.session.add(SupportRequest(
        requester_id=users["rep5"].id, department_id=ctx.departments["sales"].id, seed_user_id=users["rep"].id,
        subject="提交审批按钮是灰色的", module="quotes", body_markdown="按文章的步骤填好了折扣，**提交审批**点不了。",
        created_at=recent, status=SUPPORT_OPEN, asked_from_article_id=article.id))
