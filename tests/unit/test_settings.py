import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.settings import SettingsError, load_settings


def test_embedded_defaults_make_sqlite_file_and_keep_a_secret(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    first = load_settings(environ={"CC_INSTANCE_PATH": str(instance)})
    second = load_settings(environ={"CC_INSTANCE_PATH": str(instance)})
    assert first.database_url == f"sqlite:///{instance / 'callcenter.db'}"
    assert len(first.secret_key) == 64
    assert first.secret_key == second.secret_key
    assert (instance / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides_defaults_including_sections(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "CC_INSTANCE_PATH": str(tmp_path),
            "CC_SMTP__PORT": "2525",
            "CC_LOCALE__DEFAULT": "en",
            "CC_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert settings.smtp.port == 2525
    assert settings.locale.default == "en"
    assert settings.uses_redis


def test_config_file_is_read_between_defaults_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[web]\nport = 8080\nhost = "0.0.0.0"\n')
    settings = load_settings(
        environ={
            "CC_CONFIG": str(config),
            "CC_INSTANCE_PATH": str(tmp_path),
            "CC_WEB__PORT": "9090",
        }
    )
    assert settings.web.host == "0.0.0.0"
    assert settings.web.port == 9090


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CC_DATABASE_URL": "not a url"}, "CC_DATABASE_URL is not a database URL"),
        ({"CC_DATABASE_URL": "mysql://x/y"}, "supported: sqlite, postgresql"),
        (
            {"CC_ENV": "production", "CC_DATABASE_URL": "postgresql://h/db"},
            "CC_SECRET_KEY must be set",
        ),
        ({"CC_ENV": "production", "CC_SECRET_KEY": "k" * 40}, "CC_DATABASE_URL must be set"),
        (
            {"CC_ENV": "production", "CC_SECRET_KEY": "x", "CC_DATABASE_URL": "postgresql://h/db"},
            "CC_SECRET_KEY must be at least 32 characters",
        ),
        (
            {
                "CC_ENV": "production",
                "CC_SECRET_KEY": "k" * 40,
                "CC_DATABASE_URL": "postgresql://h/db",
                "CC_WEBPHONE__WS_URL": "wss://sip.example.net:8443",
            },
            "CC_WEBPHONE__SECRET must be set",
        ),
        ({"CC_WEB__PORT": "seventy"}, "setting web.port (CC_WEB__PORT)"),
        ({"CC_LOCALE__TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
        ({"CC_ENV": "staging"}, "setting env (CC_ENV)"),
    ],
)
def test_bad_settings_stop_with_one_clear_line(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"CC_INSTANCE_PATH": str(tmp_path), **environ})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(environ={"CC_CONFIG": str(tmp_path / "nope.toml")})


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    """Several web workers starting at once on a fresh instance folder: the
    cookie one signs must be good on the others."""
    instance = tmp_path / "instance"
    script = (
        "import sys; from callcenter.settings import load_settings; "
        "print(load_settings({'CC_INSTANCE_PATH': sys.argv[1]}).secret_key)"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(instance)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    keys = {worker.communicate(timeout=60)[0].strip() for worker in workers}
    assert len(keys) == 1 and len(keys.pop()) == 64
    # no scratch files left behind, only the key (and the SQLite file made for it)
    assert sorted(path.name for path in instance.iterdir()) == ["callcenter.db", "secret_key"]


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("postgresql://callcenter@db-host/callcenter", "postgresql+psycopg://callcenter@db-host/callcenter"),
        ("postgres://u:p%40ss@db-host:5433/cc", "postgresql+psycopg://u:p%40ss@db-host:5433/cc"),
        ("postgresql+psycopg://u@h/cc", "postgresql+psycopg://u@h/cc"),
        ("sqlite:////var/lib/cc/callcenter.db", "sqlite:////var/lib/cc/callcenter.db"),
    ],
)  # fmt: skip
def test_the_database_url_as_users_write_it_gets_the_installed_driver(
    tmp_path: Path, written: str, used: str
) -> None:
    settings = load_settings({"CC_INSTANCE_PATH": str(tmp_path), "CC_DATABASE_URL": written})
    assert settings.database_url == used


def test_the_production_example_is_valid_with_its_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "production.example.toml"
    settings = load_settings(
        {
            "CC_CONFIG": str(example),
            "CC_INSTANCE_PATH": str(tmp_path),
            "CC_SECRET_KEY": "x" * 32,
            "CC_DATABASE_URL": "postgresql://callcenter@db-host/callcenter",
            "CC_WEBPHONE__SECRET": "shared",
        }
    )
    assert settings.is_production and settings.dialer.carrier == "sip"
    assert settings.webphone.ws_url.startswith("wss://")


def test_demo_data_loads_in_the_embedded_default_and_never_by_default_in_production(
    tmp_path: Path,
) -> None:
    assert load_settings({"CC_INSTANCE_PATH": str(tmp_path)}).wants_demo_data
    production = {
        "CC_ENV": "production",
        "CC_SECRET_KEY": "k" * 40,
        "CC_DATABASE_URL": "postgresql://h/db",
        "CC_INSTANCE_PATH": str(tmp_path),
    }
    assert not load_settings(production).wants_demo_data
    assert load_settings({**production, "CC_LOAD_DEMO_DATA": "true"}).wants_demo_data


def test_the_embedded_database_and_its_folder_are_the_owners_alone(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    settings = load_settings({"CC_INSTANCE_PATH": str(instance)})
    assert settings.database_url.endswith("instance/callcenter.db")
    assert (instance / "callcenter.db").stat().st_mode & 0o777 == 0o600
    assert instance.stat().st_mode & 0o777 == 0o700
