"""Creating and upgrading the main database schema (Alembic), and checking it is current.

``HEAD`` names the newest migration; the service compares it with the database's
``alembic_version`` at start-up without importing Alembic (a test keeps them in step).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from tutela.domain.errors import SchemaOutOfDate

HEAD = "0010"


def _config(connection: object) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "tutela.adapters:migrations")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest version; returns (version before, version after)."""
    from alembic import command

    before = current_version(engine)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("COMMIT") if connection.in_transaction() else None
        command.upgrade(_config(connection), "head")  # type: ignore[arg-type]
        connection.commit()
    return before, HEAD


def current_version(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        connection.rollback()
    return None if row is None else str(row[0])


def require_current(engine: Engine) -> None:
    version = current_version(engine)
    if version != HEAD:
        found = "no schema" if version is None else f"schema version {version}"
        raise SchemaOutOfDate(
            f"the database has {found}, this Tutela needs {HEAD}; run `tutela init` to "
            "create or upgrade it",
            details={"found": version, "needed": HEAD},
        )
