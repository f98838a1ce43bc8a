"""SQL ≡ memory on the configured database too (PostgreSQL in CI), not only on SQLite."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from app.extensions import db
from tests.unit.test_push_rules import TODAY, agree_on, profiles, rules


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rules, batch=st.lists(profiles, min_size=1, max_size=25))
def test_compiled_rules_select_what_memory_selects_on_the_real_database(app, rule, batch):
    agree_on(db.engine, rule, batch, TODAY)
