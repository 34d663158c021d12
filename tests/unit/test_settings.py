from __future__ import annotations

from pathlib import Path

import pytest

from tutela.domain.errors import ConfigurationError
from tutela.settings import Settings


def test_defaults_live_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings.from_env(env={}, data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'tutela.db'}"
    assert settings.keystore_url == f"sqlite:///{tmp_path / 'keys.db'}"
    assert settings.keyring == str(tmp_path / "keyring.json")


def test_argon2_defaults_meet_the_owasp_minimum() -> None:
    params = Settings.from_env(env={}).argon2
    assert params.memory_kib >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism >= 1


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        env={
            "TUTELA_DATA_DIR": "/srv/tutela",
            "TUTELA_DATABASE_URL": "postgresql+psycopg://db/tutela",
            "TUTELA_ARGON2_MEMORY_KIB": "65536",
        }
    )
    assert settings.data_dir == Path("/srv/tutela")
    assert settings.database_url.startswith("postgresql")
    assert settings.argon2.memory_kib == 65536


def test_bad_numbers_say_which_setting() -> None:
    with pytest.raises(ConfigurationError, match="TUTELA_PORT"):
        Settings.from_env(env={"TUTELA_PORT": "eighty"})
    with pytest.raises(ConfigurationError, match="TUTELA_ARGON2_TIME_COST"):
        Settings.from_env(env={"TUTELA_ARGON2_TIME_COST": "0"})


@pytest.mark.parametrize("name", ["TUTELA_DATABASE_URL", "TUTELA_KEYSTORE_URL"])
def test_tutelas_own_data_stays_on_sqlite_or_postgresql(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}: .* not mysql; use sqlite:///PATH"):
        Settings.from_env(env={name: "mysql+pymysql://tutela@db.example/tutela"})
    assert Settings.from_env(env={name: "sqlite:///tmp/t.db"})
