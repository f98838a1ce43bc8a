"""The starter catalogue of policies and reminders for ``shuima seed-demo`` (idempotent by key)."""

from __future__ import annotations

from typing import Any, Iterator

from app.push.service import publish_once
from app.push.settings import push

#: (key, category, priority, title, body, rule)
CATALOGUE: list[tuple[str, str, int, str, str, Any]] = [
    ("small-micro-relief", "tax_relief", 70, "小型微利企业“六税两费”减半征收",
     "符合条件的小型微利企业和个体工商户，可按50%的税额幅度减征资源税、城市维护建设税、房产税、城镇土地使用税、印花税、"
     "耕地占用税和教育费附加、地方教育附加。申报时系统自动带出减免，无需另行备案。",
     {"in": [{"var": "size_class"}, ["micro", "small"]]}),
    ("bank-tax-loan", "loan_offer", 60, "银税互动：凭纳税信用申请无抵押贷款",
     "纳税信用A级、B级和M级企业可通过合作银行线上申请信用贷款，额度参考近两年纳税情况，最快当日放款。"
     "授权银行查询涉税信息前，请确认授权范围和期限，授权可随时撤回。",
     {"in": [{"var": "color"}, ["gold", "silver", "green"]]}),
    ("credit-repair", "credit_repair", 90, "纳税信用修复指引",
     "您的纳税信用评价为D级。对逾期申报、逾期缴纳税款等失信行为，在规定期限内纠正的，可向主管税务机关申请信用修复；"
     "修复后将按规定重新评价。详情请咨询主管税务机关或拨打12366。",
     {"and": [{"==": [{"var": "color"}, "red"]}, {"!=": [{"var": "state"}, "blacklisted"]}]}),
    ("a-grade-service", "service_offer", 50, "A级纳税人专属服务：一对一辅导与绿色通道",
     "作为纳税信用A级纳税人，您可享受办税服务厅绿色通道、税收政策一对一辅导，并可一次领取不超过3个月的增值税发票用量。",
     {"==": [{"var": "color"}, "gold"]}),
    ("newcomer-course", "training", 40, "新办纳税人“开业第一课”",
     "欢迎开业！主管税务机关每月举办新办纳税人培训，内容包括税务登记信息确认、发票领用、按期申报和纳税信用管理，"
     "可在电子税务局预约线上或线下课程。",
     {"<": [{"var": "years_registered"}, 1]}),
    ("c-grade-filing", "filing_reminder", 60, "按期申报提醒：C级纳税人重点关注",
     "您的纳税信用评价为C级，请务必按期申报、按期缴纳税款。连续按期申报、无新增失信行为，有助于下一年度评价提升。",
     {"==": [{"var": "color"}, "blue"]}),
]


def seed_catalogue(s: Any) -> Iterator[str]:
    """Create and publish the starter policies missing so far; yields one summary line."""
    created = 0
    for key, category, priority, title, body, rule in CATALOGUE:
        data = {"title": title, "body": body, "category": category, "priority": priority, "rule": rule}
        created += publish_once(data, source_key=f"demo:{key}", by="seed", uow=s.uow(), clock=s.clock,
                                jobs=push().jobs)
    yield f"push policies: {created} created and published, {len(CATALOGUE) - created} already there"
