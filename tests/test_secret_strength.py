"""Production refuses a guessable SECRET_KEY in one line naming the rule (issue 14, finding 7)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml

from conduit.secret_strength import MIN_ESTIMATED_BITS, estimated_bits, repeated_period, weakness
from conduit.settings import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def kubernetes_placeholder() -> str:
    document = yaml.safe_load((REPO / "deploy/kubernetes/secret.example.yaml").read_text(encoding="utf-8"))
    value: str = document["stringData"]["SECRET_KEY"]
    return value


def refusal(secret_key: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(conduit_env="production", secret_key=secret_key)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("SECRET_KEY ")
    return message


@pytest.mark.parametrize(
    ("secret_key", "rule"),
    [
        (kubernetes_placeholder(), "placeholder word 'replace'"),
        ("changeme-changeme-changeme-changeme", "placeholder word 'change'"),
        ("a" * 32, "a sequence of 1 character(s) repeated"),
        ("x7Gq" * 8, "a sequence of 4 character(s) repeated"),
        ("Zq8-Zq8-Zq8-Zq8-Zq8-Zq8-Zq8-Zq8-Zq8", "a sequence of 4 character(s) repeated"),
        ("your-app-Secret-Key-here-please-123", "placeholder word 'secret'"),
        ("s3cr3t-" + "x" * 41, "bits of entropy"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "bits of entropy"),
        ("x7Gq" * 7 + "abc", "shorter than 32 bytes"),
    ],
)
def test_production_refuses_a_guessable_secret_key(secret_key: str, rule: str) -> None:
    message = refusal(secret_key)
    assert rule in message
    assert "token_urlsafe" in message
    assert secret_key not in message  # the refusal never echoes the secret


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(48), lambda: secrets.token_hex(32)])
def test_production_accepts_generated_secret_keys(make: object) -> None:
    for _ in range(200):
        key = make()  # type: ignore[operator]
        assert load_settings(conduit_env="production", secret_key=key).secret_key == key


def test_no_false_positive_on_the_smallest_generated_keys() -> None:
    """32 bytes of hex (128 random bits) estimate at 86 bits at worst; the threshold stays below."""
    for _ in range(2000):
        assert weakness(secrets.token_hex(16)) is None
        assert weakness(secrets.token_urlsafe(24)) is None
    assert MIN_ESTIMATED_BITS <= 80


def test_the_estimates() -> None:
    assert estimated_bits("a" * 40) == 0
    assert estimated_bits("0123456789abcdef") == 64
    assert repeated_period("abcabcab") == 3
    assert repeated_period("abcabcabd") is None
