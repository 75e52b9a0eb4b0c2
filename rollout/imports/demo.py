"""Demo imports: a saved mapping template for the old CRM's export, one completed customer import and the
new support staff imported from HR's roster (accounts waiting for their sign-in links)."""
from __future__ import annotations

from rollout.extensions import db
from rollout.imports import services
from rollout.imports.models import MappingTemplate
from rollout.timeutil import utcnow

#: The old system's customer export, as the sales team kept it in Excel (GBK CSV, 负责人 by name).
OLD_CRM_EXPORT = [
    ["客户名称", "联系电话", "电子邮箱", "所属行业", "城市", "负责人", "备注"],
    ["杭州恒远机械制造有限公司", "0571-86012345", "SALES@HENGYUAN-MECH.CN", "制造业", "杭州", "张伟", "老客户"],
    ["苏州瑞德精密电子有限公司", "13912345678", "purchase@ruide-pe.com", "电子", "苏州", "李娜", ""],
    ["宁波海晟物流有限公司", "+86 139 0574 2233", "", "物流", "宁波", "王磊", "年框合同"],
    ["\u3000南京金陵医疗器械有限公司 ", "025-84561234转806", "info@jlmed.cn", "医疗", "南京", "刘洋", ""],
    ["无锡华光新能源科技有限公司", "１３８６１２３４５６７", "hg@huaguang-ne.com", "新能源", "无锡", "杨静", "全角号码"],
    ["上海申联信息技术有限公司", "021-64321987", "contact@shenlian.com.cn", "软件", "上海", "黄勇", ""],
    ["合肥科信智能设备有限公司", "0551-6555", "kx@kexin-ai.cn", "制造业", "合肥", "张伟", "电话位数不对"],
    ["温州东瓯鞋业有限公司", "13705771234", "", "轻工", "温州", "赵敏", ""],
    ["嘉兴禾丰农业发展有限公司", "0573-82223344", "hefeng@jxhf.cn", "农业", "嘉兴", "吴昊", ""],
    ["", "", "", "", "", "", ""],
    ["常州天宁化工有限公司", "13515001234", "tn@tianning-chem.com", "化工", "常州", "周婷", ""],
    ["绍兴柯桥纺织品有限公司", "0575-85112233", "kq@kqtex.cn", "纺织", "绍兴", "徐斌", ""],
    ["湖州南浔木业有限公司", "13857201234", "", "建材", "湖州", "孙悦", ""],
]

#: HR's roster of the support desk's new hires, who start next week: their accounts have no password yet.
NEW_HIRES = [
    ["用户名", "姓名", "部门", "邮箱", "角色"],
    ["svc5", "客服专员 方圆", "客服部", "fangyuan@example.cn", "员工"],
    ["svc6", "客服专员 石磊", "客服部", "shilei@example.cn", "员工"],
]


def _import_csv(ctx, target: str, rows: list[list[str]], stored_name: str, filename: str, **options):
    text = "\r\n".join(",".join(row) for row in rows) + "\r\n"
    path = services.upload_folder() / stored_name
    path.write_bytes(text.encode("gb18030"))
    stored = services.keep_file(path)
    path.unlink()
    batch = services.create_batch(ctx.users["admin"], target, stored, filename, **options)
    return services.run_import(batch, ctx.users["admin"], commit=False)


def load(ctx) -> None:
    admin = ctx.users["admin"]
    template = MappingTemplate(name="老CRM客户导出", target="customers", created_by_id=admin.id,
                               columns={"客户名称": "name", "联系电话": "phone", "电子邮箱": "email",
                                        "所属行业": "industry", "城市": "city", "负责人": "owner"},
                               keep_as_is=[])
    db.session.add(template)
    db.session.flush()
    batch = _import_csv(ctx, "customers", OLD_CRM_EXPORT, "demo-old-crm-customers.csv", "老CRM客户导出-2024.csv",
                        department_id=ctx.departments["sales"].id, template=template)
    # The one rejected row (a phone number missing digits) was fixed by hand and entered again.
    if batch.error_count:
        batch.errors_resolved_at = utcnow()
    _import_csv(ctx, "users", NEW_HIRES, "demo-new-hires.csv", "客服部新员工花名册.csv")
    db.session.flush()
