"""Alembic has one head, and `upgrade head` builds exactly what the models say."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import callcenter.models  # noqa: F401
from callcenter import migrate
from callcenter.db import Base, Database


def test_single_head() -> None:
    assert len(migrate.heads()) == 1


def test_upgraded_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_is_repeatable(database: Database) -> None:
    migrate.upgrade(database.url)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_heads() == tuple(migrate.heads())
