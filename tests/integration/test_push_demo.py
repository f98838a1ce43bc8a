"""The starter catalogue: realistic policies, created once however often the demo is seeded."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.push.demo import CATALOGUE, seed_catalogue
from app.push.models import Delivery, Policy
from app.push.rules import parse_rule
from app.services import services


def test_catalogue_rules_are_valid_and_every_category_has_chinese_text():
    for _key, _category, _priority, title, body, rule in CATALOGUE:
        parse_rule(rule)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in title + body)


def test_seeding_twice_creates_each_policy_once_and_reaches_the_fitting_taxpayers(app, factory):
    red = factory.taxpayer("D")
    with app.app_context():
        first = list(seed_catalogue(services()))
        again = list(seed_catalogue(services()))
        with db.session() as session:
            policies = session.scalars(select(Policy)).all()
            titles = set(session.scalars(select(Policy.title).join(Delivery, Delivery.policy_id == Policy.id)
                                         .where(Delivery.uscc == red)))
    assert first == [f"push policies: {len(CATALOGUE)} created and published, 0 already there"]
    assert again == [f"push policies: 0 created and published, {len(CATALOGUE)} already there"]
    assert len(policies) == len(CATALOGUE) and {p.status for p in policies} == {"published"}
    assert "纳税信用修复指引" in titles and "银税互动：凭纳税信用申请无抵押贷款" not in titles
