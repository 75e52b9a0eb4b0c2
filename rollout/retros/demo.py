"""Demo retros: six weeks of weekly retros for both sales teams, with cards, dots, action items
and a recurring theme (customer duplicate checks keep coming up in 销售一组)."""
from __future__ import annotations

import random
from datetime import timedelta

from rollout.extensions import db
from rollout.retros import conversions, services

WEEKS = 6

#: Cards per week and team: (column index, text, tag). Week 0 is the oldest.
SALES1_CARDS = [
    [(0, "每天早上花半小时在新系统里排当天拜访", None), (1, "客户查重太慢，录入一个客户要等半分钟", "客户查重"),
     (2, "周报自动生成，省了周五下午的时间", "周报"), (1, "纸质拜访记录和系统双份录入", "重复录入")],
    [(1, "查重总提示重复客户，其实是同名不同公司", "客户查重"), (0, "拜访前先看客户的历史跟进", None),
     (2, "手机端签到好用", "移动端"), (1, "报价审批卡在财务两天", "报价审批")],
    [(1, "客户查重规则还是不准，分公司名字老被当成重复", "客户查重"), (2, "团队看板每天早会用起来了", None),
     (0, "下次培训想学商机阶段怎么填", "培训"), (1, "移动端拍照上传名片经常失败", "移动端")],
    [(2, "新客户录入字段减少后快多了", None), (1, "客户查重又误报了三次", "客户查重"),
     (0, "每周五互相检查一次跟进记录", None)],
    [(1, "公海客户被别人领走了没有通知", "公海"), (2, "报价审批现在当天就批", "报价审批"),
     (0, "把常见问题整理成FAQ", "FAQ")],
    [(1, "导入的老客户数据有很多空手机号", "数据质量"), (2, "种子用户答疑很及时", None),
     (0, "拜访计划和日历同步", None)],
]
SALES2_CARDS = [
    [(0, "每周一上午统一更新商机阶段", None), (1, "系统里找不到上季度的合同金额", "历史数据"),
     (2, "客户标签很好用", None)],
    [(1, "外出时手机端加载慢", "移动端"), (2, "组长每天在群里提醒录入", None)],
    [(1, "商机阶段定义不清楚，大家理解不一样", "商机阶段"), (0, "先把流程图打印贴在工位", None),
     (2, "培训视频可以反复看", "培训")],
    [(2, "跟进提醒准时", None), (1, "同一客户两个人都在跟", "客户归属")],
    [(0, "月底前一周集中清理过期商机", None), (1, "审批流太长", "报价审批"), (2, "新同事上手很快", None)],
    [(1, "数据导出格式和财务要的不一样", "导出"), (2, "组内排名激励效果不错", None)],
]
ACTIONS = [
    ("整理客户查重误报案例发给IT", 7), ("下次早会演示商机阶段填写", 5), ("核对导入数据里的空手机号", 10),
    ("和财务确认报价审批时限", 7), ("把常见问题整理进FAQ", 14),
]


def load(ctx) -> None:
    rng = random.Random(9)
    today = ctx.today
    for team_code, head, cards_by_week, anonymous_week in (("sales-1", "team1.head", SALES1_CARDS, 2),
                                                           ("sales-2", "team2.head", SALES2_CARDS, 4)):
        team = ctx.departments[team_code]
        members = [u for u in ctx.users.values() if u.department_id == team.id]
        facilitator = ctx.users[head]
        last_weekday = today - timedelta(days=(today.weekday() - 4) % 7)  # the latest Friday
        for week in range(WEEKS):
            held_on = last_weekday - timedelta(weeks=WEEKS - 1 - week)
            template = ("start_stop_continue", "well_improve_ideas", "four_ls", "mad_sad_glad")[week % 4]
            retro = services.create_retro(team, f"{team.name}第{held_on.isocalendar()[1]}周回顾", held_on,
                                          template, facilitator, is_anonymous=(week == anonymous_week),
                                          vote_budget=3)
            card_ids = []
            for column_index, body, tag in cards_by_week[week]:
                author = rng.choice(members)
                column = retro.columns[min(column_index, len(retro.columns) - 1)]
                card_ids.append(services.add_card(retro, author, column.id, body, tag))
            if week == WEEKS - 1 and held_on >= today - timedelta(days=1):
                continue  # this week's retro is still collecting cards
            services.transition_retro(retro, "reveal")
            cards = [db.session.get(services.RetroCard, card_id) for card_id in card_ids]
            for voter in rng.sample(members, k=min(4, len(members))):
                for card in rng.sample(cards, k=min(2, len(cards))):
                    services.cast_vote(retro, card, voter)
            if len(cards) >= 2:
                services.group_card(retro, cards[0], "流程效率")
                services.group_card(retro, cards[-1], "流程效率")
            title, days = ACTIONS[(week + len(team_code)) % len(ACTIONS)]
            item = services.add_action_item(retro, title, rng.choice(members).id, held_on + timedelta(days=days),
                                            card_ids[1] if len(card_ids) > 1 else None)
            second = services.add_action_item(retro, f"{title}（跟进）", facilitator.id,
                                              held_on + timedelta(days=days + 7))
            if week < WEEKS - 3:
                services.transition_action_item(item, "finish")
                services.transition_action_item(second, rng.choice(["finish", "drop"]))
            elif week < WEEKS - 2:
                services.transition_action_item(item, "start")
            retro.notes_markdown = (f"- 本周共 {len(cards)} 张卡片，得票最多的是“{cards[1].body}”\n"
                                    f"- 上周行动项逐条过了一遍")
            if week < WEEKS - 1:  # only the latest retro is still being discussed
                services.transition_retro(retro, "close")
            if team_code == "sales-1":
                _link_to_work(week, cards, facilitator, ctx.users["lead"])
    services.remind_action_items()  # the daily job has run: owners of overdue items were told
    db.session.flush()


def _link_to_work(week: int, cards, facilitator, lead) -> None:
    """Show feedback becoming work: a card as a change request, a question the lead answers in the FAQ,
    and a question the team head asks the support desk."""
    available = conversions.available()
    if week == 2 and available["faq"]:  # "下次培训想学商机阶段怎么填"
        conversions.to_faq_article(cards[2], lead, "商机阶段怎么填？", STAGE_ANSWER, tags=["商机阶段", "培训"])
    if week == 3 and available["change"]:  # "客户查重又误报了三次"
        conversions.to_change_request(cards[1], facilitator)
    if week == 4 and available["question"]:  # "公海客户被别人领走了没有通知"
        conversions.to_support_question(cards[0], facilitator)


STAGE_ANSWER = """按客户实际走到哪一步填，不按自己的感觉：

1. **线索**：知道有这个需求，还没见过面。
2. **已拜访**：见过面或深入通过电话，对方说清了要买什么、预算多少。
3. **已报价**：报价单已发出，系统里要有这张报价。
4. **谈判中**：对方回复了报价，在谈价格或条款。
5. **赢单 / 输单**：签了合同，或对方明确不买了。

阶段往前走时写一条跟进记录，说明依据。"""
