"""Reports a bank files for a village, township or county: the figures (households filed,
rated, given limits, total limits, lent, balance, arrears, NPL) and the statuses, as JSON
and as CSV (UTF-8 with BOM so spreadsheet programs open the Chinese header)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from app.clock import Clock, local_date
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.rural.chart import render_county_chart
from app.rural.context import RuralContext
from app.rural.domain import Actor, PlaceLevel, county_of
from app.rural.policy import RuralPolicy
from app.rural.service import require_county
from app.rural.standing import PlaceStatus
from app.rural.statuses import CountyStanding, county_standing

#: (figure key, CSV header) in report order.
COLUMNS = (
    ("households", "建档户数"), ("rated", "已评定户数"), ("credit_households", "信用户数"),
    ("with_limit", "授信户数"), ("total_limits", "授信总额（元）"), ("borrowers", "借款户数"),
    ("borrowers_in_arrears", "拖欠户数"), ("loans", "贷款笔数"), ("amount_lent", "发放金额（元）"),
    ("balance", "贷款余额（元）"), ("arrears_balance", "逾期余额（元）"), ("npl_balance", "不良余额（元）"),
    ("new_npl_balance", "当年新增不良（元）"),
)
LEVEL_ZH = {"county": "县", "township": "乡镇", "village": "村"}


def standing_for(code: str, *, actor: Actor, uow: UnitOfWork, clock: Clock, ctx: RuralContext) -> CountyStanding:
    """The county standing that holds place ``code``, after checking the actor may see it."""
    county = require_county(actor, county_of(code)) if code.isdigit() else None
    if county is None:
        raise NotFound(f"没有代码为 {code} 的地区")
    return county_standing(county, uow=uow, cache=ctx.figures, policy=ctx.policy, clock=clock)


def _status_for(code: str, *, actor: Actor, uow: UnitOfWork, clock: Clock,
                ctx: RuralContext) -> tuple[CountyStanding, PlaceStatus]:
    """The county standing holding ``code`` and the place's own status; ``NotFound`` for an unknown place."""
    standing = standing_for(code, actor=actor, uow=uow, clock=clock, ctx=ctx)
    status = standing.status_of(code)
    if status is None:
        raise NotFound(f"没有代码为 {code} 的地区")
    return standing, status


def place_status(code: str, *, actor: Actor, uow: UnitOfWork, clock: Clock, ctx: RuralContext) -> dict[str, Any]:
    """One place's status with every threshold met or missed and by how much, plus the cycle dates."""
    standing, status = _status_for(code, actor=actor, uow=uow, clock=clock, ctx=ctx)
    year = cycle_year(standing.as_of)
    return status.to_json() | {"as_of": standing.as_of.isoformat(), "cycle_year": year,
                               "cycle": _cycle(ctx.policy, year)}


def cycle_year(today: date) -> int:
    """The rating cycle under way on ``today``: a cycle's last deadline (Feb 28) falls in the next year."""
    return today.year if today.month >= 3 else today.year - 1


def place_report(code: str, *, actor: Actor, uow: UnitOfWork, clock: Clock, ctx: RuralContext) -> dict[str, Any]:
    """The place's own figures and one row per place below it (townships and villages)."""
    standing, status = _status_for(code, actor=actor, uow=uow, clock=clock, ctx=ctx)
    below: list[PlaceStatus] = []
    if status.level is PlaceLevel.COUNTY:
        below = [*standing.townships.values(), *standing.villages.values()]
    elif status.level is PlaceLevel.TOWNSHIP:
        below = [v for c, v in standing.villages.items() if c.startswith(code)]
    below.sort(key=lambda s: s.code)
    return {"as_of": standing.as_of.isoformat(), "total": _row(status), "rows": [_row(s) for s in below]}


def report_csv(report: dict[str, Any]) -> bytes:
    """The report as CSV: the total first, then one line per place below it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["级别", "代码", "名称", *[title for _k, title in COLUMNS], "是否信用", "星级", "数据日期"])
    for row in [report["total"], *report["rows"]]:
        writer.writerow([LEVEL_ZH[row["level"]], row["code"], _as_text(row["name"]),
                         *[row["figures"][k] for k, _t in COLUMNS], "是" if row["credit"] else "否", row["stars"],
                         report["as_of"]])
    return out.getvalue().encode("utf-8-sig")


def _as_text(cell: str) -> str:
    """A name as text in a spreadsheet: one that starts like a formula (``=``, ``+``, ``-``, ``@``, a
    tab or carriage return) gets a leading apostrophe, so Excel or WPS shows it instead of running it."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _row(status: PlaceStatus) -> dict[str, Any]:
    return {"level": status.level.value, "code": status.code, "name": status.name, "credit": status.credit,
            "stars": status.stars, "figures": status.figures.to_json(), "villages": status.villages,
            "credit_villages": status.credit_villages}


def county_chart(code: str, *, actor: Actor, uow: UnitOfWork, clock: Clock, ctx: RuralContext) -> bytes:
    """PNG of a county's villages by status, with the credit-household threshold drawn across.

    Raises ``InvalidInput`` on ``code`` for a township or village code (the chart is per county).
    """
    if len(code) != 6:
        raise InvalidInput.field("code", "图表只针对县级（6 位代码）")
    standing = standing_for(code, actor=actor, uow=uow, clock=clock, ctx=ctx)
    threshold = next(t.value for t in ctx.policy.thresholds[PlaceLevel.VILLAGE] if t.key == "credit_household_share")
    return render_county_chart(standing.county, list(standing.villages.values()), threshold=threshold,
                               as_of=standing.as_of.isoformat())


def policy_view(year: int | None, *, clock: Clock, ctx: RuralContext) -> dict[str, Any]:
    """The region's policy as data: cycle deadlines of ``year`` (default: the cycle under way), thresholds,
    star levels, limits, rates."""
    p = ctx.policy
    year = year or cycle_year(local_date(clock.now()))

    def thresholds(items: Any) -> list[dict[str, str]]:
        return [{"key": t.key, "title": t.title, "op": t.op, "value": str(t.value)} for t in items]

    return {
        "year": year,
        "cycle": _cycle(p, year),
        "notice_days": p.notice_days,
        "rating_valid_years": p.rating_valid_years,
        "npl_overdue_days": p.npl_overdue_days,
        "thresholds": {level.value: thresholds(items) for level, items in p.thresholds.items()},
        "village_stars": [{"stars": s.stars, "thresholds": thresholds(s.thresholds)} for s in p.village_stars],
        "limits": {"base_by_grade": {g.value: str(v) for g, v in p.limits.base_by_grade.items()},
                   "asset_share": str(p.limits.asset_share),
                   "operating_income_share": str(p.limits.operating_income_share),
                   "cap": str(p.limits.cap), "round_down_to": str(p.limits.round_down_to)},
        "rates": {"lpr": str(p.rates.lpr), "lpr_name": p.rates.lpr_name, "lpr_as_of": p.rates.lpr_as_of.isoformat(),
                  "bp_by_stars": {str(k): str(v) for k, v in p.rates.bp_by_stars.items()}},
    }


def _cycle(policy: RuralPolicy, year: int) -> dict[str, dict[str, str]]:
    """The deadlines of the rating cycle of ``year``, as JSON."""
    return {k: {"due": v["due"].isoformat(), "title": v["title"]} for k, v in policy.deadlines(year).items()}
