"""Settings: the profile chosen by CONDUIT_ENV, the precedence of the sources, production's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.settings import (
    DEV_SECRET_KEY,
    PROFILES,
    TEST_SECRET_KEY,
    ConfigError,
    DevelopmentSettings,
    ProductionSettings,
    Settings,
    load_settings,
    normalize_database_url,
)

GOOD_SECRET = "k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUiOoPlMnBvCxZa"  # 48 characters, random-looking
assert len(GOOD_SECRET) == 48


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test starts in an empty directory (no `.env`) with none of the settings in the environment."""
    for name in [*Settings.model_fields, "conduit_config_file"]:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_env_file(directory: Path, **values: str) -> None:
    lines = [f"{name.upper()}={value}" for name, value in values.items()]
    (directory / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_yaml(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{name}: {value!r}\n" for name, value in values.items()), encoding="utf-8")
    return path


# --- profiles -------------------------------------------------------------------------------------


def test_development_is_the_default_profile() -> None:
    settings = load_settings()
    assert type(settings) is DevelopmentSettings
    assert settings.conduit_env == "development"
    assert settings.debug is True
    assert settings.testing is False
    assert settings.secret_key == DEV_SECRET_KEY


def test_profile_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_ENV", "testing")
    settings = load_settings()
    assert type(settings) is PROFILES["testing"]
    assert settings.conduit_env == "testing"
    assert settings.testing is True
    assert settings.debug is False
    assert settings.secret_key == TEST_SECRET_KEY


def test_profile_from_the_env_file(clean_environment: Path) -> None:
    write_env_file(clean_environment, conduit_env="production", secret_key=GOOD_SECRET)
    settings = load_settings()
    assert type(settings) is ProductionSettings
    assert settings.conduit_env == "production"
    assert settings.secret_key == GOOD_SECRET


def test_environment_beats_env_file_for_the_profile(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    write_env_file(clean_environment, conduit_env="production")
    monkeypatch.setenv("CONDUIT_ENV", "testing")
    assert type(load_settings()) is PROFILES["testing"]


def test_keyword_argument_beats_environment_for_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_ENV", "production")
    assert type(load_settings(conduit_env="testing")) is PROFILES["testing"]


def test_profile_name_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_ENV", "Production")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    settings = load_settings()
    assert type(settings) is ProductionSettings
    assert settings.conduit_env == "production"


def test_reported_profile_is_the_one_whose_defaults_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONDUIT_ENV picks the profile; a YAML file cannot relabel development (DEBUG on) as production."""
    monkeypatch.setenv(
        "CONDUIT_CONFIG_FILE", str(write_yaml(tmp_path / "conduit.yml", conduit_env="production"))
    )
    settings = load_settings()
    assert PROFILES[settings.conduit_env] is type(settings)


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_unknown_profile_is_a_config_error(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("CONDUIT_ENV", name)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "CONDUIT_ENV" in message
    assert name in message
    assert "\n" not in message


def test_unknown_profile_as_keyword_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CONDUIT_ENV"):
        load_settings(conduit_env="qa")


def test_invalid_value_is_a_one_line_config_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "DB_POOL_SIZE" in message
    assert "\n" not in message


# --- precedence -----------------------------------------------------------------------------------


def test_precedence_of_every_source(monkeypatch: pytest.MonkeyPatch, clean_environment: Path) -> None:
    """kwargs > environment > .env > YAML > profile default, one setting decided at each level."""
    yaml_file = write_yaml(
        clean_environment / "conduit.yml",
        jwt_issuer="from-yaml",
        redis_url="redis://yaml",
        log_level="error",
        database_url="sqlite:///yaml.db",
    )
    write_env_file(
        clean_environment,
        conduit_config_file=str(yaml_file),
        jwt_issuer="from-dotenv",
        redis_url="redis://dotenv",
        log_level="critical",
    )
    monkeypatch.setenv("JWT_ISSUER", "from-env")
    monkeypatch.setenv("REDIS_URL", "redis://env")

    settings = load_settings(jwt_issuer="from-kwargs")

    assert settings.jwt_issuer == "from-kwargs"  # kwargs beat env, .env and YAML
    assert settings.redis_url == "redis://env"  # env beats .env and YAML
    assert settings.log_level == "CRITICAL"  # .env beats YAML
    assert settings.database_url == "sqlite:///yaml.db"  # YAML beats the profile default
    assert settings.max_page_size == 100  # nobody set it: the default
    assert settings.secret_key == DEV_SECRET_KEY  # profile default


def test_yaml_file_named_in_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    yaml_file = write_yaml(tmp_path / "elsewhere.yml", default_page_size="7", log_level="warning")
    monkeypatch.setenv("CONDUIT_CONFIG_FILE", str(yaml_file))
    settings = load_settings(conduit_env="testing")
    assert settings.default_page_size == 7
    assert settings.log_level == "WARNING"


def test_yaml_beats_the_profile_default_but_not_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    yaml_file = write_yaml(tmp_path / "c.yml", argon2_time_cost="5", jwt_issuer="yaml")
    monkeypatch.setenv("CONDUIT_CONFIG_FILE", str(yaml_file))
    monkeypatch.setenv("JWT_ISSUER", "env")
    settings = load_settings(conduit_env="testing")
    assert settings.argon2_time_cost == 5  # the testing profile's default is 1
    assert settings.jwt_issuer == "env"


def test_without_a_yaml_file_the_profile_defaults_apply() -> None:
    settings = load_settings(conduit_env="testing")
    assert settings.argon2_time_cost == 1
    assert settings.database_url == "sqlite:///var/conduit-test.db"


def test_env_file_in_another_directory_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write_env_file(other, jwt_issuer="elsewhere")
    assert load_settings().jwt_issuer == "conduit"


# --- production refuses unsafe settings -----------------------------------------------------------


def production_error(**overrides: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(conduit_env="production", **overrides)
    return str(caught.value)


def assert_one_line_naming(message: str, setting: str) -> None:
    assert setting in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert "pydantic" not in message.lower()


def test_production_refuses_a_missing_secret_key() -> None:
    assert_one_line_naming(production_error(), "SECRET_KEY")


def test_production_refuses_an_empty_secret_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert_one_line_naming(str(caught.value), "SECRET_KEY")


@pytest.mark.parametrize("secret", ["changeme", "secret", DEV_SECRET_KEY, TEST_SECRET_KEY])
def test_production_refuses_a_known_default_secret_key(secret: str) -> None:
    assert_one_line_naming(production_error(secret_key=secret), "SECRET_KEY")


def test_production_refuses_a_secret_key_shorter_than_32_bytes() -> None:
    message = production_error(secret_key="x7Gq" * 7 + "abc")  # 31 bytes
    assert_one_line_naming(message, "SECRET_KEY")
    assert "32" in message


def test_production_accepts_a_secret_key_of_exactly_32_bytes() -> None:
    key = GOOD_SECRET[:32]
    assert load_settings(conduit_env="production", secret_key=key).secret_key == key


def test_production_refuses_debug() -> None:
    assert_one_line_naming(production_error(secret_key=GOOD_SECRET, debug=True), "DEBUG")


def test_production_refuses_debug_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DEBUG", "true")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert_one_line_naming(str(caught.value), "DEBUG")


def test_production_refuses_testing() -> None:
    assert_one_line_naming(production_error(secret_key=GOOD_SECRET, testing=True), "TESTING")


def test_production_refuses_a_default_secret_from_a_yaml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONDUIT_CONFIG_FILE", str(write_yaml(tmp_path / "c.yml", secret_key="changeme")))
    assert_one_line_naming(production_error(), "SECRET_KEY")


def test_production_accepts_a_good_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    settings = load_settings()
    assert type(settings) is ProductionSettings
    assert settings.secret_key == GOOD_SECRET
    assert settings.debug is False
    assert settings.testing is False


def test_development_and_testing_accept_their_default_secrets() -> None:
    assert load_settings(conduit_env="development").secret_key == DEV_SECRET_KEY
    assert load_settings(conduit_env="testing").secret_key == TEST_SECRET_KEY


# --- database URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/conduit", "postgresql+psycopg://u:p@db:5432/conduit"),
        ("postgresql://u:p@db/conduit", "postgresql+psycopg://u:p@db/conduit"),
        ("postgresql+psycopg://u@db/conduit", "postgresql+psycopg://u@db/conduit"),
        ("sqlite:///var/conduit.db", "sqlite:///var/conduit.db"),
    ],
)
def test_database_url_normalization(given: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalize_database_url(given) == expected
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings(conduit_env="testing").database_url == expected
    assert load_settings(conduit_env="testing", database_url=given).database_url == expected


def test_is_sqlite() -> None:
    assert load_settings(conduit_env="testing", database_url="sqlite:///x.db").is_sqlite
    assert not load_settings(conduit_env="testing", database_url="postgres://h/d").is_sqlite


def test_default_page_size_may_not_exceed_the_maximum() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(conduit_env="testing", default_page_size=50, max_page_size=10)
    assert_one_line_naming(str(caught.value), "DEFAULT_PAGE_SIZE")
