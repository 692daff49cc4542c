"""SQL errors outside development carry no statement parameters (issue 14, finding 4)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from conduit.settings import load_settings
from conduit.storage.database import make_engine


@pytest.mark.parametrize("profile", ["production", "testing"])
def test_sql_errors_hide_their_parameters_outside_development(database_url: str, profile: str) -> None:
    overrides: dict[str, Any] = {"database_url": database_url}
    if profile == "production":
        overrides["secret_key"] = "k3Vq9xZp2LmN7rT4wY8bC1dF6gH0jS5aQeUiOoPlMnBvCxZa"
    engine = make_engine(load_settings(conduit_env=profile, **overrides))
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as caught:
            conn.execute(sa.text("SELECT * FROM no_such_table WHERE hash = :h"), {"h": "$argon2id$hash-1"})
    finally:
        engine.dispose()
    message = str(caught.value)
    assert "$argon2id$hash-1" not in message
    assert "hidden due to hide_parameters" in message


def test_development_shows_parameters(database_url: str) -> None:
    engine = make_engine(load_settings(conduit_env="development", database_url=database_url))
    try:
        assert not engine.hide_parameters
    finally:
        engine.dispose()
