"""Import every ORM model so the metadata is complete (Alembic, table truncation in tests)."""


def import_all_models() -> None:
    import app.accounts.models  # noqa: F401
    import app.codes.models  # noqa: F401
    import app.events  # noqa: F401
    import app.push.models  # noqa: F401
    import app.rural.models  # noqa: F401
    import app.taxpayers.models  # noqa: F401
