"""Customer export whose column names the importer maps back automatically."""
from __future__ import annotations

from sqlalchemy import select

from rollout.accounts.models import Department, User
from rollout.extensions import db
from rollout.reports.exports import Column


def customer_rows():
    """(columns, row iterator) of every live customer, custom fields included."""
    from rollout.plans.models import Campaign, Customer, CustomerField
    from rollout.plans.services import SYSTEM_TEXT_LABELS, display_extra
    fields = db.session.scalars(select(CustomerField).where(CustomerField.is_active.is_(True))
                                .order_by(CustomerField.position, CustomerField.id)).all()
    columns = [Column("客户名称", "name"), Column("手机", "phone"), Column("邮箱", "email"),
               Column("行业", "industry"), Column("城市", "city"), Column("地址", "address"),
               Column("来源", lambda row: str(SYSTEM_TEXT_LABELS.get(row["source"], row["source"] or ""))),
               Column("负责人", "owner"), Column("部门", "department"),
               Column("市场活动", "campaign")]
    columns += [Column(f.label, (lambda row, key=f.key: display_extra((row["extra"] or {}).get(key))))
                for f in fields]
    query = (select(Customer.name, Customer.phone, Customer.email, Customer.industry, Customer.city, Customer.address,
                    Customer.source, User.username.label("owner"), Department.name.label("department"),
                    Campaign.name.label("campaign"), Customer.extra)
             .outerjoin(User, User.id == Customer.owner_id).outerjoin(Department, Department.id == Customer.department_id)
             .outerjoin(Campaign, Campaign.id == Customer.campaign_id)
             .where(Customer.deleted_at.is_(None)).order_by(Customer.id))

    def rows():
        for row in db.session.execute(query.execution_options(yield_per=2000)):
            yield dict(row._mapping)
    return columns, rows()



def system_source_words() -> dict[str, str]:
    """{words: code} of the sources the system writes (import), as exported in either language, so that an
    exported file imports back to the same code."""
    from flask_babel import force_locale

    from rollout.plans.services import SYSTEM_TEXT_LABELS
    words = {}
    for language in ("zh_CN", "en"):
        with force_locale(language):
            words.update({str(label): code for code, label in SYSTEM_TEXT_LABELS.items()})
    return words
