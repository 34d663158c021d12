"""Migrations and tables agree, on every backend; the start-up check knows the head."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tutela.adapters import schema
from tutela.adapters.tables import metadata
from tutela.bootstrap import Runtime


def test_migrations_build_exactly_the_declared_tables(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_the_head_constant_matches_the_newest_migration() -> None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "tutela.adapters:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == schema.HEAD


def test_upgrading_twice_changes_nothing(runtime: Runtime) -> None:
    assert schema.upgrade(runtime.engine) == (schema.HEAD, schema.HEAD)
