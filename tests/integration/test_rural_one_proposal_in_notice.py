"""At most one rating in notice per household, kept by the database too: the partial unique index
``uq_rural_ratings_household_in_notice``, the migration that brings it (0005) and the answer a
proposal gets when the index refuses it. Both suites (SQLite and PostgreSQL) run these."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, insert, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.migrate import alembic_config, upgrade
from app.rural.models import Rating
from app.rural.repository import SqlAlchemyRuralRepository

API = "/api/v1/rural"
INDEX = "uq_rural_ratings_household_in_notice"
MIGRATION_NOTE = "重复的公示评定，已由系统撤回（保留最早的一条）"
ratings = Rating.__table__



def propose(client, officer, household_id: int) -> int:
    response = client.post(f"{API}/households/{household_id}/ratings", headers=officer)
    assert response.status_code == 201, response.json
    return response.json["id"]


def copy_of(rating_id: int, **changes) -> dict:
    """Every column of a stored rating but its id, with ``changes``: a row ready to insert again."""
    with db.engine.connect() as conn:
        row = conn.execute(select(ratings).where(ratings.c.id == rating_id)).mappings().one()
    return {k: v for k, v in row.items() if k != "id"} | changes


def insert_rating(row: dict) -> int:
    with db.engine.begin() as conn:
        return conn.execute(insert(ratings).returning(ratings.c.id), row).scalar_one()


def stored() -> dict[int, tuple]:
    """Every rating: id → (household, state, decided_by, decision_note, decided_at is set)."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(ratings.c.id, ratings.c.household_id, ratings.c.state, ratings.c.decided_by,
                                   ratings.c.decision_note, ratings.c.decided_at))
        return {r.id: (r.household_id, r.state, r.decided_by, r.decision_note, r.decided_at is not None)
                for r in rows}


def has_index() -> bool:
    return any(ix["name"] == INDEX and ix["unique"] for ix in inspect(db.engine).get_indexes("rural_ratings"))


def test_the_database_refuses_a_second_rating_in_notice_for_a_household_but_not_one_in_another_state(
        client, rural, officer, village):
    household = rural.household(officer, village)["id"]
    proposed = propose(client, officer, household)
    with pytest.raises(IntegrityError):
        insert_rating(copy_of(proposed))
    confirmed = insert_rating(copy_of(proposed, state="confirmed"))
    withdrawn = insert_rating(copy_of(proposed, state="withdrawn"))
    assert {rid: s[:2] for rid, s in stored().items()} == {
        proposed: (household, "proposed"), confirmed: (household, "confirmed"), withdrawn: (household, "withdrawn")}


def test_migration_0005_withdraws_all_but_the_earliest_proposal_of_a_household_then_indexes_them(
        app, client, rural, officer, village, database_url):
    """An older release could propose a household twice (two overlapping "rate all" runs): the
    upgrade keeps the earliest proposal, withdraws the others as an officer would, and the
    downgrade (index only) and a second upgrade still work."""
    twice, once, redone = (rural.household(officer, village)["id"] for _ in range(3))
    kept_twice, kept_once = propose(client, officer, twice), propose(client, officer, once)
    withdrawn_by_officer = propose(client, officer, redone)
    assert client.post(f"{API}/ratings/{withdrawn_by_officer}/withdrawal", headers=officer,
                       json={"note": "人口登记有误"}).status_code == 200
    kept_redone = propose(client, officer, redone)
    try:
        command.downgrade(alembic_config(database_url), "0004")
        assert not has_index()
        duplicates = [insert_rating(copy_of(kept_twice)) for _ in range(2)]
        before = stored()

        upgrade(database_url)
        after = stored()
        assert {rid: after[rid] for rid in duplicates} == {
            rid: (twice, "withdrawn", "migration 0005", MIGRATION_NOTE, True) for rid in duplicates}
        assert {rid: row for rid, row in after.items() if rid not in duplicates} == {
            rid: row for rid, row in before.items() if rid not in duplicates}
        assert {rid for rid, row in after.items() if row[1] == "proposed"} == {kept_twice, kept_once, kept_redone}
        assert after[withdrawn_by_officer][2] == officer.username
        assert has_index()
        with pytest.raises(IntegrityError):
            insert_rating(copy_of(kept_once))

        command.downgrade(alembic_config(database_url), "0004")
        assert not has_index()
        again = insert_rating(copy_of(kept_once))  # allowed without the index
        upgrade(database_url)
        assert stored()[again] == (once, "withdrawn", "migration 0005", MIGRATION_NOTE, True)
        assert stored()[kept_once][1] == "proposed" and has_index()
    finally:
        upgrade(database_url)  # the session's database stays at the latest revision for the other tests


def test_a_proposal_that_slipped_past_the_lock_and_the_check_is_a_409_and_changes_nothing(
        client, rural, officer, village, monkeypatch):
    """Something that did not take the county lock has proposed the household since the check: the
    index refuses the insert and the officer gets the check's own answer, not a 500."""
    household = rural.household(officer, village)["id"]
    propose(client, officer, household)
    before = stored()
    monkeypatch.setattr(SqlAlchemyRuralRepository, "lock_proposals_of", lambda self, county_code: None)
    monkeypatch.setattr(SqlAlchemyRuralRepository, "open_proposal", lambda self, household_id: None)
    again = client.post(f"{API}/households/{household}/ratings", headers=officer)
    assert again.status_code == 409, again.json
    assert again.json["message"] == "该农户已有公示中的评定，请先确认或撤回"
    assert again.json["errors"] == {"household_id": ["rating in notice"]}
    assert stored() == before
