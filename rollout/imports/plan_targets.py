"""Import targets of the plan-tracking core: customers (with custom fields), contacts, follow-ups,
opportunities and sales-plan targets.

Customers are the bulk of a migration, so they are inserted with one executemany per chunk,
computing the same columns as ``rollout.plans.services.create_customer`` (name and phone keys,
owner or pool, department) and validating custom fields with its ``clean_extra``.  The other
targets are smaller and go through the plan-tracking services row by row, so their rules
(and side effects such as stage history) stay in one place.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, literal, null, select

from rollout.accounts.models import User
from rollout.cleaning import clean_note, company_key, name_key, phone_key_of, strip_legal_suffixes
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.imports.exporting import system_source_words
from rollout.imports.messages import kept
from rollout.imports.targets import (ImportContext, RowError, Target, TargetField, add_uses, among, cell_problems,
                                     counts_by)
from rollout.plans import services as plans
from rollout.plans.models import (METRICS, Activity, Campaign, Contact, Customer, CustomerAssignment, CustomerField,
                                  LostReason, Opportunity, PlanTarget, Quote, SalesPlan)
from rollout.timeutil import local_today, to_local, utcnow

CUSTOMER_SYNONYMS = ("客户名称", "客户", "公司名称", "公司", "单位名称", "单位", "企业名称", "企业", "客户全称",
                     "company", "company name", "customer", "customer name", "name", "account")
PHONE_SYNONYMS = ("手机", "电话", "手机号", "手机号码", "联系电话", "电话号码", "联系方式", "座机", "移动电话", "固定电话",
                  "固话", "办公电话", "联系手机", "mobile", "phone", "tel", "telephone", "cell")
EMAIL_SYNONYMS = ("邮箱", "电子邮箱", "电子邮件", "邮件", "邮箱地址", "e-mail", "email", "mail")
OWNER_SYNONYMS = ("负责人", "销售", "业务员", "归属销售", "所属销售", "负责销售", "销售负责人", "客户负责人", "业务负责人",
                  "客户经理", "跟进人", "跟进销售", "销售代表", "销售人员", "归属人", "owner", "sales rep", "rep")
DEPARTMENT_SYNONYMS = ("部门", "所属部门", "归属部门", "销售部门", "销售团队", "所属团队", "团队", "小组", "所属小组",
                       "department", "dept", "team")
FIELD_KIND_TO_CLEANING = {"text": "text", "number": "amount", "date": "date", "choice": "text",
                          "multi_choice": "text", "phone": "phone", "email": "email"}


def _customer_lookup() -> dict[str, tuple[int, int | None, int | None]]:
    """company_key → (id, department_id, owner_id) of live customers."""
    found = {}
    for customer_id, key, department_id, owner_id in db.session.execute(
            select(Customer.id, Customer.name_key, Customer.department_id, Customer.owner_id)
            .where(Customer.deleted_at.is_(None)).order_by(Customer.id)):
        found.setdefault(key, (customer_id, department_id, owner_id))
    return found


def _allowed(ctx: ImportContext, department_id: int | None, label) -> None:
    if department_id is not None and ctx.allowed_department_ids is not None \
            and department_id not in ctx.allowed_department_ids:
        raise RowError(_l("You may not import records into department %(name)s.", name=label))


def _midday(value) -> datetime | None:
    """A date from a spreadsheet as a naive-UTC instant (noon local, so the day never shifts)."""
    if value is None or isinstance(value, datetime):
        return value
    return plans.local_day_start(value) + timedelta(hours=12)


@dataclass(frozen=True)
class CustomFieldDefinition:
    """What plans.extra_value reads of a CustomerField."""
    key: str
    label: str
    kind: str
    choices: list
    is_required: bool


class CustomerTarget(Target):
    name = "customers"
    label = _l("Customers")
    model = Customer
    key_kinds = ("name", "phone", "email")
    updatable = ("phone", "phone_key", "email", "industry", "city", "address", "extra")
    complete_rows = True
    plans_in_memory = True

    def fields(self):
        base = [
            TargetField("name", _l("Customer name"), required=True, max_length=200, synonyms=CUSTOMER_SYNONYMS),
            TargetField("phone", _l("Phone"), "phone", max_length=40, synonyms=PHONE_SYNONYMS),
            TargetField("email", _l("Email"), "email", max_length=254, synonyms=EMAIL_SYNONYMS),
            TargetField("industry", _l("Industry"), max_length=60,
                        synonyms=("行业", "所属行业", "行业类别", "行业分类", "industry")),
            TargetField("city", _l("City"), max_length=60,
                        synonyms=("城市", "所在城市", "地区", "所在地区", "区域", "所在地", "省市", "city", "region")),
            TargetField("address", _l("Address"), max_length=300,
                        synonyms=("地址", "详细地址", "公司地址", "联系地址", "通讯地址", "办公地址", "address")),
            TargetField("source", _l("Source"), max_length=40,
                        synonyms=("来源", "客户来源", "来源渠道", "获客渠道", "线索来源", "渠道", "source", "channel")),
            TargetField("owner", _l("Owner"), synonyms=OWNER_SYNONYMS),
            TargetField("department", _l("Department"), synonyms=DEPARTMENT_SYNONYMS),
            TargetField("campaign", _l("Campaign"), synonyms=("市场活动", "活动", "campaign")),
        ]
        # Plain copies, not ORM objects: the commit after each chunk would expire ORM objects, and
        # the next row would reload each one.
        self._custom = [CustomFieldDefinition(d.key, d.label, d.kind, d.choices, d.is_required)
                        for d in db.session.scalars(select(CustomerField).where(CustomerField.is_active.is_(True))
                                                    .order_by(CustomerField.position, CustomerField.id))]
        for definition in self._custom:
            base.append(TargetField(f"x_{definition.key}", definition.label,
                                    FIELD_KIND_TO_CLEANING.get(definition.kind, "text"),
                                    required=definition.is_required, synonyms=(definition.key,)))
        return base

    def begin(self, ctx):
        exact, near = {}, {}
        self.campaigns = {name.casefold(): cid for cid, name in db.session.execute(select(Campaign.id, Campaign.name))}
        for customer_id, name, phone_key, email in db.session.execute(
                select(Customer.id, Customer.name, Customer.phone_key, Customer.email)
                .where(Customer.deleted_at.is_(None)).order_by(Customer.id)):
            exact.setdefault(f"name:{name_key(name)}", customer_id)
            if phone_key:
                exact.setdefault(f"phone:{phone_key}", customer_id)
            if email:
                exact.setdefault(f"email:{email}", customer_id)
            near.setdefault(company_key(name), (customer_id, name))
        if not hasattr(self, "_custom"):
            self.fields()
        self.now = utcnow()  # one timestamp for the whole import: cheaper, and the rows belong together
        self.system_sources = system_source_words()
        self.created_by_id = ctx.user.id
        return exact, near

    def keys(self, values):
        keys = [f"name:{values.get('_name_key') or name_key(values['name'])}"]
        if values.get("phone"):
            keys.append(f"phone:{values.get('_phone_key') or phone_key_of(values['phone'])}")
        if values.get("email"):
            keys.append(f"email:{values['email']}")
        return keys

    def near_key(self, values):
        return values.get("_company_key") or company_key(values.get("name"))

    def _campaign(self, name: str | None) -> int | None:
        if not name:
            return None
        campaign_id = self.campaigns.get(name.casefold())
        if campaign_id is None:
            raise RowError(_l("Unknown campaign %(name)s.", name=name))
        return campaign_id

    @staticmethod
    def _extra_value(definition: CustomFieldDefinition, value) -> tuple[object, object]:
        """(stored value, None) of a cleaned cell of a custom field, or (None, the lazy reason it is refused)."""
        if isinstance(value, Decimal):
            value = str(int(value)) if value == value.to_integral() else format(value.normalize(), "f")
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        if definition.kind == "multi_choice" and isinstance(value, str):
            value = [part for part in plans.re.split(r"[,，;；、/]", value) if part.strip()]
        return plans.extra_value(definition, value)

    def build(self, values, ctx):
        owner_name, department_name = values.get("owner"), values.get("department")
        owner = ctx.person(owner_name) if owner_name else None
        owner_id = owner[0] if owner else ctx.default_owner_id
        if department_name:
            department_id = ctx.department(department_name)
        elif owner:
            department_id = owner[1] or ctx.default_department_id
            _allowed(ctx, department_id, owner_name)
        else:
            department_id = ctx.department(None)
            if department_id is None and owner_id is None:
                raise RowError(_l("A customer without an owner goes to a department's public pool: name the "
                                  "department, or choose a default department for the import."))
        campaign_id = self._campaign(values.get("campaign"))
        extra = {}
        for definition in self._custom:
            value, problem = self._extra_value(definition, values.get(f"x_{definition.key}"))
            if problem is not None:
                raise RowError(problem)
            if value is not None:
                extra[definition.key] = value
        now = self.now
        in_pool = owner_id is None
        # Both duplicate keys from one normalisation: company_key is name_key without legal suffixes.
        values["_name_key"] = exact_key = name_key(values["name"])
        values["_company_key"] = key = strip_legal_suffixes(exact_key)
        values["_phone_key"] = phone = phone_key_of(values.get("phone"))
        source = values.get("source")
        return {"name": values["name"], "name_key": key, "phone": values.get("phone"),
                "phone_key": phone, "email": values.get("email"),
                "industry": values.get("industry"), "city": values.get("city"), "address": values.get("address"),
                "source": self.system_sources.get(source, source) or "import", "owner_id": owner_id,
                "department_id": department_id,
                "campaign_id": campaign_id, "extra": extra, "is_in_pool": in_pool,
                "pool_entered_at": now if in_pool else None}

    def check_cells(self, values, ctx):
        problems = cell_problems([
            ("owner", lambda: ctx.person(values.get("owner"))),
            ("department", lambda: values.get("department") and ctx.department(values["department"])),
            ("campaign", lambda: self._campaign(values.get("campaign")))])
        for definition in self._custom:
            name = f"x_{definition.key}"
            if values.get(name) is not None:  # an empty required one is the planner's "is required"
                _value, problem = self._extra_value(definition, values[name])
                if problem is not None:
                    problems[name] = kept(problem)
        return problems

    def shared_columns(self):
        now = self.now
        return {"last_followup_at": now, "is_lost": False, "created_by_id": self.created_by_id, "created_at": now,
                "deleted_at": None}

    def insert(self, rows, ctx):
        ids = super().insert(rows, ctx)
        if not ids:
            return ids
        # The ownership history starts with the import, as create_customer starts it with "create".
        connection = db.session.connection()
        if connection.dialect.name == "sqlite" and ids[-1] - ids[0] + 1 == len(ids):
            # Under SQLite's write lock the new customers are exactly this id range: SQLite copies
            # the rows itself, without a parameter per value.
            history = CustomerAssignment.__table__
            connection.execute(history.insert().from_select(
                ["customer_id", "kind", "from_user_id", "to_user_id", "note", "created_at"],
                select(Customer.id, literal("create"), null(), Customer.owner_id, literal("import"),
                       Customer.created_at).where(Customer.id.between(ids[0], ids[-1])).order_by(Customer.id)))
        else:
            connection.execute(CustomerAssignment.__table__.insert(), [
                {"customer_id": customer_id, "kind": "create", "from_user_id": None, "to_user_id": row["owner_id"],
                 "note": "import", "created_at": self.now} for customer_id, row in zip(ids, rows)])
        return ids

    def update(self, entity_id, row, ctx):
        # The row's custom fields only hold the cells that have a value: merged over the stored ones, so an
        # unmapped or blank custom field keeps what the customer has (an empty row leaves them all alone).
        record = db.session.get(Customer, entity_id)
        if record is not None:
            row = dict(row, extra={**(record.extra or {}), **(row.get("extra") or {})})
        return super().update(entity_id, row, ctx)

    def in_use(self, ids):
        found: dict[int, dict[str, int]] = {}
        for use, model in (("contacts", Contact), ("activities", Activity), ("opportunities", Opportunity),
                           ("quotes", Quote)):
            add_uses(found, use, counts_by(model.customer_id, ids))
        add_uses(found, "assignments", counts_by(CustomerAssignment.customer_id, ids,
                                                 CustomerAssignment.kind != "create"))
        return found

    def remove(self, ids):
        db.session.execute(delete(CustomerAssignment).where(CustomerAssignment.customer_id.in_(ids)))
        super().remove(ids)


class _CustomerChild(Target):
    """Targets that belong to a customer named in the row; written through the plan-tracking services."""
    per_row = True
    #: The field naming a person (who did it, whose it is), if any.
    person_field: str | None = None

    def _customer(self, values, ctx):
        if not hasattr(self, "_customers"):
            self._customers = _customer_lookup()
        found = self._customers.get(company_key(values.get("customer")))
        if found is None:
            raise RowError(_l("Unknown customer %(name)s (import the customers first).", name=values.get("customer")))
        _allowed(ctx, found[1], values.get("customer"))
        return found

    def _user(self, values, key, ctx, fallback_owner_id=None) -> User:
        person = ctx.person(values.get(key))
        user_id = person[0] if person else (fallback_owner_id or ctx.default_owner_id or ctx.user.id)
        user = db.session.get(User, user_id)
        if user is None:
            raise RowError(_l("Unknown user %(name)s.", name=values.get(key)))
        return user

    def check_cells(self, values, ctx):
        checks = [("customer", lambda: values.get("customer") and self._customer(values, ctx))]
        if self.person_field:
            checks.append((self.person_field, lambda: ctx.person(values.get(self.person_field))))
        return cell_problems(checks)

    def insert(self, rows, ctx):
        return [self.insert_one(row, ctx) for row in rows]

    def insert_one(self, row, ctx) -> int:
        raise NotImplementedError


class ContactTarget(_CustomerChild):
    name = "contacts"
    label = _l("Contacts")
    model = Contact
    key_kinds = ("contact", "phone")
    updatable = ("title", "phone", "phone_key", "email")

    def fields(self):
        return [
            TargetField("customer", _l("Customer"), required=True, synonyms=CUSTOMER_SYNONYMS[:-2]),
            TargetField("name", _l("Contact name"), required=True, max_length=100,
                        synonyms=("联系人", "联系人姓名", "姓名", "contact", "contact name", "name")),
            TargetField("title", _l("Job title"), max_length=100,
                        synonyms=("职务", "职位", "岗位", "职称", "title", "position", "job title")),
            TargetField("phone", _l("Phone"), "phone", max_length=40, synonyms=PHONE_SYNONYMS),
            TargetField("email", _l("Email"), "email", max_length=254, synonyms=EMAIL_SYNONYMS),
            TargetField("is_primary", _l("Primary contact"), "boolean",
                        synonyms=("主要联系人", "主联系人", "首要联系人", "primary")),
        ]

    def begin(self, ctx):
        exact = {}
        for contact_id, customer_id, name, phone_key in db.session.execute(
                select(Contact.id, Contact.customer_id, Contact.name, Contact.phone_key)):
            exact.setdefault(f"contact:{customer_id}:{name_key(name)}", contact_id)
            if phone_key:
                exact.setdefault(f"phone:{phone_key}", contact_id)
        return exact, {}

    def build(self, values, ctx):
        customer_id, department_id, _owner = self._customer(values, ctx)
        values["_customer_id"] = customer_id
        return {"customer_id": customer_id, "name": values["name"], "title": values.get("title"),
                "phone": values.get("phone"), "phone_key": phone_key_of(values.get("phone")),
                "email": values.get("email"), "is_primary": bool(values.get("is_primary")),
                "_department_id": department_id}

    def keys(self, values):
        keys = [f"contact:{values['_customer_id']}:{name_key(values['name'])}"]
        if values.get("phone"):
            keys.append(f"phone:{phone_key_of(values['phone'])}")
        return keys

    def insert_one(self, row, ctx):
        customer = db.session.get(Customer, row["customer_id"])
        return plans.add_contact(customer, row["name"], row["title"], row["phone"], row["email"],
                                 row["is_primary"]).id

    def department_of(self, row):
        return row.get("_department_id")


ACTIVITY_ALIASES = {"visit": ("拜访", "上门", "上门拜访", "面访"), "call": ("电话", "致电", "电话沟通", "phone"),
                    "meeting": ("会议", "会面", "开会", "会谈"), "message": ("消息", "微信", "短信", "邮件", "wechat", "sms")}
STAGE_ALIASES = {"lead": ("线索", "初步接洽"), "visited": ("已拜访", "拜访"), "quoted": ("已报价", "报价"),
                 "negotiating": ("谈判", "谈判中", "商务谈判"), "won": ("赢单", "成交", "已成交", "签约"),
                 "lost": ("输单", "丢单", "失败")}


def _content_digest(text: str | None) -> str:
    """What a follow-up says, normalised (width, case, spacing) and hashed: short enough for a key
    that every stored follow-up keeps in memory during an import."""
    normal = " ".join(unicodedata.normalize("NFKC", clean_note(text)).split()).casefold()
    return hashlib.blake2b(normal.encode("utf-8"), digest_size=8).hexdigest()


class ActivityTarget(_CustomerChild):
    name = "activities"
    label = _l("Follow-ups")
    model = Activity
    key_kinds = ("activity",)
    person_field = "user"
    duplicate_rule = _l("A follow-up is a duplicate when the same person had the same kind of contact with the "
                        "same customer on the same day and wrote the same content (ignoring spaces and case).")

    def fields(self):
        return [
            TargetField("customer", _l("Customer"), required=True, synonyms=CUSTOMER_SYNONYMS[:-2]),
            TargetField("user", _l("Done by"), synonyms=OWNER_SYNONYMS + ("拜访人", "执行人", "记录人")),
            TargetField("kind", _l("Kind"), required=True, choices=ACTIVITY_ALIASES,
                        synonyms=("类型", "方式", "跟进方式", "跟进类型", "跟进形式", "沟通方式", "拜访方式", "kind", "type")),
            TargetField("occurred_on", _l("Date"), "date", required=True,
                        synonyms=("日期", "跟进日期", "拜访日期", "沟通日期", "联系日期", "时间", "跟进时间", "拜访时间",
                                  "沟通时间", "联系时间", "date")),
            TargetField("outcome", _l("Outcome"), "note", max_length=5000,
                        synonyms=("内容", "跟进内容", "结果", "跟进结果", "跟进情况", "跟进记录", "拜访内容", "拜访记录",
                                  "沟通内容", "沟通记录", "记录", "备注", "outcome", "notes")),
            TargetField("next_step", _l("Next step"), max_length=300,
                        synonyms=("下一步", "下一步计划", "下一步工作", "下一步行动", "下步计划", "后续计划", "跟进计划",
                                  "下次跟进内容", "下次跟进计划", "next step")),
            # A date column named after the next step ("下一步日期") is that step's date, never the
            # next step itself: every such name is listed, since an exact name wins over a partial one.
            TargetField("next_step_on", _l("Next step date"), "date",
                        synonyms=("下一步日期", "下一步时间", "下一步计划日期", "下次日期", "下次时间", "下次跟进日期",
                                  "下次跟进时间", "下次跟进", "下次联系日期", "下次联系时间", "下次拜访日期",
                                  "下次拜访时间", "计划跟进日期", "预计跟进日期", "next step date", "next step on",
                                  "next follow-up", "next follow-up date", "next date")),
        ]

    @staticmethod
    def _key(customer_id, user_id, kind, occurred_at: datetime, outcome: str | None) -> str:
        """A follow-up is the same one when the same person had the same kind of contact with the same
        customer on the same day and wrote the same thing: two calls on one day are two follow-ups."""
        return f"activity:{customer_id}:{user_id}:{kind}:{occurred_at.isoformat()}:{_content_digest(outcome)}"

    def begin(self, ctx):
        exact = {}
        for activity_id, customer_id, user_id, kind, occurred_at, outcome in db.session.execute(
                select(Activity.id, Activity.customer_id, Activity.user_id, Activity.kind, Activity.occurred_at,
                       Activity.outcome).execution_options(yield_per=5000)):
            exact.setdefault(self._key(customer_id, user_id, kind, occurred_at, outcome), activity_id)
        return exact, {}

    def build(self, values, ctx):
        customer_id, department_id, owner_id = self._customer(values, ctx)
        user = self._user(values, "user", ctx, owner_id)
        occurred_at = _midday(values["occurred_on"])
        if occurred_at > utcnow():
            raise RowError(_l("A follow-up cannot be in the future."))
        values["_key"] = self._key(customer_id, user.id, values["kind"], occurred_at, values.get("outcome"))
        if values.get("next_step_on") and not values.get("next_step"):
            raise RowError(_l("Say what the next step is."))
        return {"customer_id": customer_id, "user_id": user.id, "kind": values["kind"], "occurred_at": occurred_at,
                "outcome": values.get("outcome") or "", "next_step": values.get("next_step"),
                "next_step_on": values.get("next_step_on"), "_department_id": user.department_id}

    def keys(self, values):
        return [values["_key"]]

    def names(self, ids):
        """A follow-up as its list shows it: customer, day, kind and who."""
        found = {}
        for activity_id, customer, occurred_at, kind, person in db.session.execute(
                select(Activity.id, Customer.name, Activity.occurred_at, Activity.kind, User.display_name)
                .join(Customer, Customer.id == Activity.customer_id).join(User, User.id == Activity.user_id)
                .where(Activity.id.in_(ids))):
            found[activity_id] = (f"{customer} · {to_local(occurred_at).date().isoformat()} · "
                                  f"{plans.ACTIVITY_LABELS.get(kind, kind)} · {person} (#{activity_id})")
        return found

    def _restart_import_clock(self, customer: Customer) -> None:
        """A customer an import created starts with the import's time as its last follow-up (the pool's
        clock). Its first imported follow-ups replace that placeholder with their own latest date, so
        the list and the pool see when it was really last followed up; a clock that has moved since (a
        follow-up logged, a claim, a transfer) is real and only ever moves forward."""
        if customer.last_followup_at is None or customer.last_followup_at != customer.created_at:
            return
        # Customers created some other way keep their creation as the clock: asked once per import.
        not_imported = self.__dict__.setdefault("_not_imported_customers", set())
        if customer.id in not_imported:
            return
        created_by_import = db.session.scalar(select(CustomerAssignment.id).where(
            CustomerAssignment.customer_id == customer.id, CustomerAssignment.kind == "create",
            CustomerAssignment.note == "import").limit(1))
        if created_by_import is None:
            not_imported.add(customer.id)
            return
        # The follow-ups it already has (an earlier import's), else none: log_activity moves it forward.
        customer.last_followup_at = db.session.scalar(select(func.max(Activity.occurred_at)).where(
            Activity.customer_id == customer.id))

    def insert_one(self, row, ctx):
        customer = db.session.get(Customer, row["customer_id"])
        actor = db.session.get(User, row["user_id"])
        self._restart_import_clock(customer)
        return plans.log_activity(customer, actor, row["kind"], row["occurred_at"], row["outcome"],
                                  row["next_step"], row["next_step_on"], is_history=True).id

    def department_of(self, row):
        return row.get("_department_id")


class OpportunityTarget(_CustomerChild):
    name = "opportunities"
    label = _l("Opportunities")
    model = Opportunity
    key_kinds = ("deal",)
    person_field = "owner"
    updatable = ("amount", "expected_close_on")

    def fields(self):
        return [
            TargetField("name", _l("Opportunity"), required=True, max_length=200,
                        synonyms=("商机", "商机名称", "项目", "项目名称", "机会", "机会名称", "销售机会",
                                  "opportunity", "deal", "deal name")),
            TargetField("customer", _l("Customer"), required=True, synonyms=CUSTOMER_SYNONYMS[:-2]),
            TargetField("owner", _l("Owner"), synonyms=OWNER_SYNONYMS),
            TargetField("amount", _l("Amount"), "amount",
                        synonyms=("金额", "预计金额", "合同金额", "商机金额", "合同额", "预计成交金额", "amount", "value")),
            TargetField("stage", _l("Stage"), choices=STAGE_ALIASES,
                        synonyms=("阶段", "商机阶段", "销售阶段", "状态", "商机状态", "stage")),
            TargetField("expected_close_on", _l("Expected close"), "date",
                        synonyms=("预计成交日期", "预计签约日期", "预计签单日期", "预计成交时间", "预计签约时间", "预计成交",
                                  "expected close", "expected close date")),
            TargetField("closed_on", _l("Close date"), "date",
                        synonyms=("结单日期", "成交日期", "关闭日期", "签约日期", "签单日期", "实际成交日期", "赢单日期",
                                  "输单日期", "成交时间", "close date", "closed on", "closed date")),
            TargetField("lost_reason", _l("Lost reason"),
                        synonyms=("输单原因", "丢单原因", "失败原因", "丢单理由", "lost reason")),
        ]

    def begin(self, ctx):
        exact = {}
        self.lost_reasons = {name.casefold(): rid for rid, name in db.session.execute(
            select(LostReason.id, LostReason.name).where(LostReason.is_active.is_(True)))}
        for deal_id, customer_id, name in db.session.execute(
                select(Opportunity.id, Opportunity.customer_id, Opportunity.name)):
            exact.setdefault(f"deal:{customer_id}:{name_key(name)}", deal_id)
        return exact, {}

    def build(self, values, ctx):
        customer_id, department_id, owner_id = self._customer(values, ctx)
        owner = self._user(values, "owner", ctx, owner_id)
        # None when blank: a new deal starts at 0, an existing one keeps its amount.
        amount = values.get("amount")
        if amount is not None and amount < 0:
            raise RowError(_l("An amount cannot be negative."))
        stage = values.get("stage") or "lead"
        lost_reason_id = None
        if stage == "lost":
            lost_reason_id = self.lost_reasons.get((values.get("lost_reason") or "").casefold())
            if lost_reason_id is None:
                raise RowError(_l("A lost deal needs one of the lost reasons."))
        if stage == "won" and not amount:
            raise RowError(_l("A won deal needs its signed amount."))
        expected, closed_on = values.get("expected_close_on"), values.get("closed_on")
        try:
            if stage in plans.OPEN_STAGES:
                if closed_on is not None:
                    raise RowError(_l("Only a won or lost deal has a close date."))
                # The rule the deal form applies to open deals, checked here so the dry run predicts the run.
                plans.check_expected_close(expected)
            else:
                # History: a closed deal keeps the day it closed, never the day of the import.
                closed_on = plans.check_date(closed_on or expected, "closed_on")
                if closed_on is None:
                    raise RowError(_l("A won or lost deal needs its close date (or an expected close date)."))
                if closed_on > local_today():
                    raise RowError(_l("A won or lost deal cannot have closed after today."))
        except ServiceError as error:
            raise RowError(error.given) from None
        values["_customer_id"] = customer_id
        return {"name": values["name"], "customer_id": customer_id, "owner_id": owner.id, "amount": amount,
                "stage": stage, "expected_close_on": expected, "closed_on": closed_on,
                "lost_reason_id": lost_reason_id, "_department_id": owner.department_id}

    def keys(self, values):
        return [f"deal:{values['_customer_id']}:{name_key(values['name'])}"]

    def insert_one(self, row, ctx):
        customer = db.session.get(Customer, row["customer_id"])
        owner = db.session.get(User, row["owner_id"])
        final = row["stage"]
        amount = row["amount"] if row["amount"] is not None else Decimal("0.00")
        if final in plans.OPEN_STAGES:
            return plans.create_opportunity(customer, ctx.user, row["name"], amount, row["expected_close_on"],
                                            owner=owner, stage=final).id
        # A closed deal is history: opened and closed on the day it closed, so it counts in that month.
        closed_at = _midday(row["closed_on"])
        opportunity = plans.create_opportunity(customer, ctx.user, row["name"], amount, row["expected_close_on"],
                                               owner=owner, stage="negotiating", created_at=closed_at)
        plans.move_stage(opportunity, final, ctx.user, lost_reason_id=row["lost_reason_id"], note="import",
                         when=closed_at, is_history=True)
        return opportunity.id

    def update(self, entity_id, row, ctx):
        """An open deal takes the file's amount and expected close; a won or lost one is kept as it closed
        (its amount is what the plans count as signed), as the deal form keeps it."""
        record = db.session.get(Opportunity, entity_id)
        if record is not None and record.stage not in plans.OPEN_STAGES:
            raise RowError(_l("%(name)s is already won or lost: an import does not change it.", name=record.name))
        return super().update(entity_id, row, ctx)

    def department_of(self, row):
        return row.get("_department_id")

    def in_use(self, ids):
        found: dict[int, dict[str, int]] = {}
        add_uses(found, "quotes", counts_by(Quote.opportunity_id, ids))
        return found


PERIOD_ALIASES = {"month": ("月", "月度", "每月"), "quarter": ("季", "季度"), "year": ("年", "年度")}
LEVEL_ALIASES = {"company": ("公司",), "department": ("部门",), "team": ("小组", "团队", "组"),
                 "rep": ("个人", "销售", "员工", "销售代表")}
METRIC_SYNONYMS = {
    "signed_amount": ("签约金额", "目标金额", "销售额", "业绩目标", "signed amount"),
    "new_customers": ("新客户数", "新增客户", "新客户", "new customers"),
    "visits": ("拜访数", "拜访次数", "拜访量", "visits"),
    "quotes": ("报价数", "报价次数", "quotes"),
    "won_deals": ("赢单数", "成交数", "签约数", "won deals"),
}


class PlanTargetTarget(Target):
    """One row per plan (owner and period) with a column per metric; written through create_plan/update_targets."""
    name = "plan_targets"
    label = _l("Plan targets")
    model = SalesPlan
    key_kinds = ("plan",)
    per_row = True
    permission = "plans.edit"

    def fields(self):
        metric_labels = plans.METRIC_LABELS
        return [
            TargetField("period_kind", _l("Period"), required=True, choices=PERIOD_ALIASES,
                        synonyms=("周期", "期间类型", "period")),
            TargetField("starts_on", _l("Period start"), "date", required=True,
                        synonyms=("开始日期", "期间", "月份", "起始日期", "start", "period start")),
            TargetField("level", _l("Level"), choices=LEVEL_ALIASES, synonyms=("层级", "级别", "level")),
            TargetField("department", _l("Department"), synonyms=DEPARTMENT_SYNONYMS),
            TargetField("user", _l("Rep"), synonyms=OWNER_SYNONYMS),
        ] + [TargetField(metric, metric_labels[metric], "amount", synonyms=METRIC_SYNONYMS[metric])
             for metric in METRICS]

    def begin(self, ctx):
        exact = {}
        for plan_id, level, department_id, user_id, starts_on, period in db.session.execute(
                select(SalesPlan.id, SalesPlan.level, SalesPlan.department_id, SalesPlan.user_id,
                       SalesPlan.starts_on, SalesPlan.period_kind)):
            owner = user_id if level == "rep" else department_id
            exact[f"plan:{level}:{owner}:{period}:{starts_on.isoformat()}"] = plan_id
        return exact, {}

    def build(self, values, ctx):
        person = ctx.person(values.get("user"))
        level = values.get("level") or ("rep" if person else None)
        department_id = None
        if level == "rep" or person:
            if person is None:
                raise RowError(_l("A rep's plan needs the rep."))
            level, user_id = "rep", person[0]
            _allowed(ctx, person[1], values.get("user"))
        else:
            user_id = None
            department_id = ctx.department(values.get("department"), required=True)
            kind = db.session.get(plans.Department, department_id).kind
            level = level or kind
        try:
            start, _end = plans.period_bounds(values["period_kind"], values["starts_on"])
        except ServiceError as error:
            raise RowError(error.given) from None
        targets = {metric: values.get(metric) for metric in METRICS if values.get(metric) is not None}
        if not targets:
            raise RowError(_l("Give at least one target."))
        owner = user_id if level == "rep" else department_id
        values["_key"] = f"plan:{level}:{owner}:{values['period_kind']}:{start.isoformat()}"
        return {"period_kind": values["period_kind"], "day": start, "level": level, "department_id": department_id,
                "user_id": user_id, "targets": {m: str(v) for m, v in targets.items()}}

    def keys(self, values):
        return [values["_key"]]

    def insert(self, rows, ctx):
        return [self.insert_one(row, ctx) for row in rows]

    def insert_one(self, row, ctx):
        return plans.create_plan(ctx.user, row["period_kind"], row["day"], row["level"], row["targets"],
                                 department_id=row["department_id"], user_id=row["user_id"]).id

    def _current(self, plan):
        return {row.metric: str(row.target) for row in plan.targets}

    def update(self, entity_id, row, ctx):
        plan = db.session.get(SalesPlan, entity_id)
        if plan is None:
            raise RowError(_l("The existing record was deleted meanwhile."))
        before = self._current(plan)
        wanted = {**before, **row["targets"]}
        try:
            plans.update_targets(plan, ctx.user, wanted, reason="import")
        except ServiceError as error:
            raise RowError(error.given) from None
        after = self._current(plan)
        return ({"targets": before}, {"targets": after}) if after != before else ({}, {})

    def current_values(self, ids, keys):
        return {plan.id: {"targets": self._current(plan)}
                for plan in db.session.scalars(select(SalesPlan).where(SalesPlan.id.in_(ids)))}

    def restore(self, entity_id, before, user):
        plan = db.session.get(SalesPlan, entity_id)
        plans.update_targets(plan, user, before["targets"], reason="undo import")

    def in_use(self, ids):
        # A plan sent for approval belongs to the approval now.
        return {plan_id: {"decided": 1} for condition in among(SalesPlan.id, ids)
                for plan_id in db.session.scalars(select(SalesPlan.id).where(condition, SalesPlan.status != "draft"))}

    def names(self, ids):
        return {plan.id: plans.plan_title(plan) for plan in db.session.scalars(
            select(SalesPlan).where(SalesPlan.id.in_(ids)))}

    def check_cells(self, values, ctx):
        department = values.get("department")
        return cell_problems([("user", lambda: ctx.person(values.get("user"))),
                              ("department", lambda: department and ctx.department(department))])

    def remove(self, ids):
        db.session.execute(delete(PlanTarget).where(PlanTarget.plan_id.in_(ids)))
        super().remove(ids)

    def department_of(self, row):
        return row.get("department_id")


def targets() -> list[Target]:
    return [CustomerTarget(), ContactTarget(), ActivityTarget(), OpportunityTarget(), PlanTargetTarget()]
