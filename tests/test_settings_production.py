"""Security settings: parsed from the environment, checked, and refused in production when unsafe."""

from __future__ import annotations

import pytest

from conduit.settings import ConfigError, load_settings

GOOD_SECRET = "k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUiOoPlMnBvCxZa"  # random-looking


def production(**overrides: object) -> object:
    return load_settings(conduit_env="production", secret_key=GOOD_SECRET, **overrides)


def test_defaults_limit_everyone_but_loopback_and_allow_no_origin() -> None:
    settings = load_settings(conduit_env="production", secret_key=GOOD_SECRET)
    assert settings.rate_limit_enabled is True
    assert settings.rate_limit_exempt == ["127.0.0.0/8", "::1"]
    assert settings.cors_origins == []
    assert settings.rate_limit_api == "600/minute"


def test_lists_come_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_EXEMPT", "10.0.0.0/8, 192.168.1.7")
    monkeypatch.setenv("CORS_ORIGINS", "https://App.example.com/, http://localhost:5173")
    monkeypatch.setenv("RATE_LIMIT_LOGIN_IP", "5/minute;50/hour")
    settings = load_settings(conduit_env="testing")
    assert settings.rate_limit_exempt == ["10.0.0.0/8", "192.168.1.7"]
    assert settings.cors_origins == ["https://app.example.com", "http://localhost:5173"]
    assert settings.rate_limit_login_ip == "5/minute;50/hour"


def test_an_empty_exempt_list_limits_everyone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_EXEMPT", "")
    assert load_settings(conduit_env="testing").rate_limit_exempt == []


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("rate_limit_api", "lots", "RATE_LIMIT_API: 'lots' is not a rate limit"),
        ("rate_limit_login_account", "10 per fortnight", "RATE_LIMIT_LOGIN_ACCOUNT"),
        ("rate_limit_exempt", ["10.0.0.0/33"], "RATE_LIMIT_EXEMPT"),
        ("cors_origins", ["*"], "CORS_ORIGINS"),
    ],
)
def test_malformed_values_are_one_line_errors(setting: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(conduit_env="testing", **{setting: value})


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "10.0.0.0/7"])
def test_production_refuses_to_exempt_huge_networks(network: str) -> None:
    with pytest.raises(ConfigError, match=r"RATE_LIMIT_EXEMPT: .* exempts a large part"):
        production(rate_limit_exempt=[network])
    assert load_settings(conduit_env="development", rate_limit_exempt=[network])


def test_production_refuses_plain_http_origins_except_loopback() -> None:
    with pytest.raises(ConfigError, match=r"CORS_ORIGINS: http://app\.example\.com is plain HTTP"):
        production(cors_origins=["http://app.example.com"])
    assert production(cors_origins=["https://app.example.com", "http://localhost:5173"])
    assert production(rate_limit_exempt=["10.0.0.0/8"])


def test_the_password_blocklist_is_on_in_production_only() -> None:
    """Issue 14, finding 11: production refuses common passwords; development and testing accept the
    official suites' password123."""
    assert load_settings(conduit_env="production", secret_key=GOOD_SECRET).password_blocklist is True
    assert load_settings(conduit_env="development").password_blocklist is False
    assert load_settings(conduit_env="testing").password_blocklist is False


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("true", True), ("1", True)])
def test_password_blocklist_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("PASSWORD_BLOCKLIST", value)
    assert load_settings(conduit_env="production", secret_key=GOOD_SECRET).password_blocklist is expected
    assert load_settings(conduit_env="testing").password_blocklist is expected


def test_a_malformed_password_blocklist_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSWORD_BLOCKLIST", "sometimes")
    with pytest.raises(ConfigError, match="PASSWORD_BLOCKLIST"):
        load_settings(conduit_env="production", secret_key=GOOD_SECRET)
