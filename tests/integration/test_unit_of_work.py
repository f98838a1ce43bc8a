"""The unit of work: explicit commits, rollback by default, objects readable after the block."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import Bank
from app.services import services


def test_work_without_commit_is_rolled_back(app):
    with app.app_context():
        with services().uow() as uow:
            uow.session.add(Bank(code="TMP", name="临时银行"))
        with services().uow() as uow:
            assert uow.session.scalars(select(Bank).where(Bank.code == "TMP")).first() is None


def test_objects_stay_readable_after_the_block(app):
    with app.app_context():
        with services().uow() as uow:
            bank = Bank(code="KEEP", name="保留银行")
            uow.session.add(bank)
            uow.commit()
        with services().uow() as uow:
            loaded = uow.session.scalars(select(Bank).where(Bank.code == "KEEP")).one()
        assert (bank.id, loaded.name) == (loaded.id, "保留银行")
