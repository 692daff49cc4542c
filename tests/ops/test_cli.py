"""The ``conduit`` command: help texts, ``deploy``, ``seed``, ``create-admin`` and ``serve``'s refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from flask import Flask

from conduit.ops.cli import main
from conduit.storage import migrations as migrate
from conduit.users.models import Permission, Role
from tests.support.accounts import register
from tests.support.databases import get_db_of, make_app
from tests.support.servers import REPO

ROLE_NAMES = set(Role.ROLES)


@pytest.fixture
def fresh_runner(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("CONDUIT_ENV", "testing")
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.delenv("CONDUIT_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("CONDUIT_CONFIG_FILE", raising=False)
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    result = runner.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    return int(query(url, f"SELECT count(*) FROM {table}")[0][0])


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything ``deploy`` may touch, to show that a second run changes nothing."""
    return {
        "alembic_version": query(url, "SELECT version_num FROM alembic_version"),
        "roles": query(url, 'SELECT id, name, "default", permissions FROM roles ORDER BY id'),
        "users": query(url, "SELECT id, email, role_id, password_hash, updated_at FROM users ORDER BY id"),
        "tables": [(name,) for name in sorted(table_names(url))],
    }


def role_of(url: str, email: str) -> str | None:
    rows = query(
        url,
        "SELECT roles.name FROM users LEFT JOIN roles ON roles.id = users.role_id "
        "WHERE lower(users.email) = :e",
        e=email.lower(),
    )
    assert len(rows) == 1, rows
    name: str | None = rows[0][0]
    return name


def register_on(url: str, username: str) -> None:
    """Create an account through the API, as a user would."""
    application: Flask = make_app(url)
    try:
        register(application.test_client(), username)
    finally:
        get_db_of(application).dispose()


# --- help -----------------------------------------------------------------------------------------


def test_main_help_lists_every_command() -> None:
    result = invoke(CliRunner(), "--help")
    for word in ("deploy", "serve", "seed", "create-admin", "CONDUIT_ENV", "CONDUIT_CONFIG_FILE"):
        assert word in result.output
    assert invoke(CliRunner(), "-h").output == result.output


def test_version() -> None:
    assert "0.1.0" in invoke(CliRunner(), "--version").output


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("deploy", ["migrations", "roles", "create-admin", "second run"]),
        ("serve", ["gunicorn", "--bind", "--workers", "--config", "production"]),
        ("seed", ["--users", "--articles", "--seed", "--password", "demo", "deploy"]),
        ("create-admin", ["--email", "--username", "--password", "--promote", "--yes", "Administrator"]),
    ],
)
def test_command_help(command: str, words: list[str]) -> None:
    result = invoke(CliRunner(), command, "--help")
    assert f"{command} [OPTIONS]" in result.output
    for word in words:
        assert word in result.output, word


def test_unknown_command_fails() -> None:
    result = CliRunner().invoke(main, ["migrate-everything"])
    assert result.exit_code != 0
    assert "migrate-everything" in result.output


# --- deploy ---------------------------------------------------------------------------------------


def test_deploy_on_a_fresh_database(fresh_runner: CliRunner, fresh_database_url: str) -> None:
    first = invoke(fresh_runner, "deploy")
    assert "migrated the database from empty to" in first.output
    for name in ROLE_NAMES:
        assert f"created role {name}" in first.output
    assert "nothing to do" not in first.output

    engine = sa.create_engine(fresh_database_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision(engine)
    finally:
        engine.dispose()
    assert {"users", "articles", "comments", "follows", "favorites", "tags", "roles"} <= table_names(
        fresh_database_url
    )
    roles = {
        name: (default, permissions)
        for _, name, default, permissions in snapshot(fresh_database_url)["roles"]
    }
    assert set(roles) == ROLE_NAMES
    assert [name for name, (default, _) in roles.items() if default] == ["User"]
    assert roles["Administrator"][1] & Permission.ADMIN
    assert not roles["User"][1] & Permission.MODERATE

    before = snapshot(fresh_database_url)
    second = invoke(fresh_runner, "deploy")
    assert "nothing to do" in second.output
    assert "created" not in second.output
    assert "migrated" not in second.output
    assert snapshot(fresh_database_url) == before


def test_deploy_corrects_a_tampered_role(fresh_runner: CliRunner, fresh_database_url: str) -> None:
    invoke(fresh_runner, "deploy")
    engine = sa.create_engine(fresh_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE roles SET permissions = 0 WHERE name = 'Moderator'"))
    finally:
        engine.dispose()
    result = invoke(fresh_runner, "deploy")
    assert "updated role Moderator" in result.output
    assert "nothing to do" in invoke(fresh_runner, "deploy").output


def test_deploy_grants_no_role(fresh_runner: CliRunner, fresh_database_url: str) -> None:
    """Issue 14, finding 1: deploy used to promote the account of CONDUIT_ADMIN_EMAIL, whoever made it."""
    invoke(fresh_runner, "deploy")
    register_on(fresh_database_url, "carol")
    before = snapshot(fresh_database_url)
    assert "nothing to do" in invoke(fresh_runner, "deploy").output
    assert role_of(fresh_database_url, "carol@example.com") == "User"
    assert snapshot(fresh_database_url) == before


@pytest.mark.parametrize("command", [["deploy"], ["create-admin", "--promote", "carol", "--yes"]])
def test_the_removed_admin_email_setting_is_refused_in_one_line(
    fresh_runner: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("CONDUIT_ADMIN_EMAIL", "admin@example.com")
    result = fresh_runner.invoke(main, command)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "CONDUIT_ADMIN_EMAIL" in lines[0]
    assert "create-admin" in lines[0]
    assert "Traceback" not in result.output


def test_deploy_reads_the_env_file(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workdir = tmp_path / "envfile"
    workdir.mkdir()
    (workdir / ".env").write_text(
        f"CONDUIT_ENV=testing\nDATABASE_URL={fresh_database_url}\n", encoding="utf-8"
    )
    monkeypatch.chdir(workdir)
    for name in ("CONDUIT_ENV", "DATABASE_URL", "CONDUIT_ADMIN_EMAIL", "CONDUIT_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert "created role User" in invoke(CliRunner(), "deploy").output
    assert count(fresh_database_url, "roles") == len(Role.ROLES)


def test_commands_refuse_an_unsafe_production_configuration(
    fresh_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONDUIT_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    for args in (
        ["deploy"],
        ["seed", "--users", "1", "--articles", "0"],
        ["create-admin", "--email", "a@b.io", "--password", "password123"],
    ):
        result = fresh_runner.invoke(main, args)
        assert result.exit_code != 0, args
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1, result.output
        assert "SECRET_KEY" in lines[0]
        assert "Traceback" not in result.output


# --- seed -----------------------------------------------------------------------------------------


TABLES = ("users", "articles", "article_tags", "tags", "favorites", "comments", "follows")


def counts(url: str) -> dict[str, int]:
    return {table: count(url, table) for table in TABLES}


def test_seed_creates_demo_data(runner: CliRunner, app: Flask, database_url: str) -> None:
    result = invoke(runner, "seed", "--users", "5", "--articles", "20")
    after = counts(database_url)
    assert after["users"] == 5
    assert after["articles"] == 20
    for table in ("article_tags", "tags", "favorites", "comments", "follows"):
        assert after[table] > 0, table
    assert "seed: 5 users" in result.stdout
    assert "20 articles" in result.stdout
    for label in ("users", "follows", "articles"):  # the progress bars' labels, on stderr
        assert label in result.stderr
    assert "seed:" not in result.stderr

    names = {row[0] for row in query(database_url, "SELECT username FROM users")}
    assert names == {f"demo{n}" for n in range(1, 6)}
    roles = query(
        database_url, "SELECT DISTINCT roles.name FROM users JOIN roles ON roles.id = users.role_id"
    )
    assert roles == [("User",)]
    orphans = query(
        database_url,
        "SELECT count(*) FROM articles WHERE author_id NOT IN (SELECT id FROM users)",
    )
    assert orphans == [(0,)]


def test_seeded_accounts_can_log_in(runner: CliRunner, app: Flask) -> None:
    invoke(runner, "seed", "--users", "2", "--articles", "3", "--password", "demo-pass-1")
    response = app.test_client().post(
        "/api/users/login", json={"user": {"email": "demo1@demo.example.com", "password": "demo-pass-1"}}
    )
    assert response.status_code == 200, response.get_json()
    articles = app.test_client().get("/api/articles?limit=50").get_json()
    assert articles["articlesCount"] == 3


def test_seed_twice_adds_new_demo_users(runner: CliRunner, app: Flask, database_url: str) -> None:
    invoke(runner, "seed", "--users", "5", "--articles", "20")
    first = counts(database_url)
    result = runner.invoke(main, ["seed", "--users", "5", "--articles", "20"])
    assert result.exit_code == 0, result.output
    second = counts(database_url)
    assert second["users"] == 10
    assert second["articles"] == 40
    assert second["comments"] >= first["comments"]
    assert second["tags"] == first["tags"]  # the same vocabulary of tags, not duplicated
    names = {row[0] for row in query(database_url, "SELECT username FROM users")}
    assert names == {f"demo{n}" for n in range(1, 11)}


def test_the_same_seed_gives_the_same_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONDUIT_ENV", "testing")
    slugs: list[list[tuple[Any, ...]]] = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name}.db"
        monkeypatch.setenv("DATABASE_URL", url)
        invoke(CliRunner(), "deploy")
        invoke(CliRunner(), "seed", "--users", "3", "--articles", "5", "--seed", "7")
        slugs.append(query(url, "SELECT slug, title FROM articles ORDER BY slug"))
    assert len(slugs[0]) == 5
    assert slugs[0] == slugs[1]


def test_seed_skips_taken_usernames(runner: CliRunner, app: Flask, database_url: str) -> None:
    register(app.test_client(), "demo2")
    invoke(runner, "seed", "--users", "3", "--articles", "0")
    names = {row[0] for row in query(database_url, "SELECT username FROM users")}
    assert names == {"demo1", "demo2", "demo3", "demo4"}
    assert count(database_url, "articles") == 0


def test_seed_rejects_nonsense_counts(runner: CliRunner) -> None:
    for args in (["--users", "0"], ["--articles", "-1"], ["--users", "many"]):
        result = runner.invoke(main, ["seed", *args])
        assert result.exit_code == 2, (args, result.output)


# --- create-admin ---------------------------------------------------------------------------------


def test_create_admin_creates_an_administrator(runner: CliRunner, app: Flask, database_url: str) -> None:
    created = invoke(runner, "create-admin", "--email", "root@example.com", "--password", "s3cret-passw0rd")
    assert "created administrator root <root@example.com>" in created.output
    assert role_of(database_url, "root@example.com") == "Administrator"

    login = app.test_client().post(
        "/api/users/login", json={"user": {"email": "root@example.com", "password": "s3cret-passw0rd"}}
    )
    assert login.status_code == 200
    assert login.get_json()["user"]["username"] == "root"

    before = snapshot(database_url)
    again = invoke(runner, "create-admin", "--email", "ROOT@example.com", "--password", "another-password")
    assert "nothing to do" in again.output
    assert snapshot(database_url) == before


def test_create_admin_never_promotes_an_account_found_by_email(
    runner: CliRunner, app: Flask, database_url: str
) -> None:
    """A stranger who registered the operator's address first (e-mails are never verified) keeps
    their ordinary role: --email creates an account, it does not adopt one."""
    client = app.test_client()
    register(client, "mallory", email="admin@example.com")
    result = runner.invoke(
        main, ["create-admin", "--email", "admin@example.com", "--password", "password123"]
    )
    assert result.exit_code != 0
    assert "not promoted" in result.output
    assert "--promote mallory" in result.output
    assert role_of(database_url, "admin@example.com") == "User"

    # Changing one's own e-mail to the operator's address grants nothing either.
    eve = register(client, "eve")
    changed = client.put("/api/user", json={"user": {"email": "root@example.com"}}, headers=eve.headers)
    assert changed.status_code == 200
    refused = runner.invoke(
        main, ["create-admin", "--email", "root@example.com", "--password", "password123"]
    )
    assert refused.exit_code != 0
    assert role_of(database_url, "root@example.com") == "User"
    assert count(database_url, "users") == 2


def test_create_admin_promotes_an_account_named_by_username_once_confirmed(
    runner: CliRunner, app: Flask, database_url: str
) -> None:
    register(app.test_client(), "erin")
    declined = runner.invoke(main, ["create-admin", "--promote", "erin"], input="n\n")
    assert declined.exit_code != 0
    assert "erin <erin@example.com>" in declined.output
    assert "role User" in declined.output
    assert role_of(database_url, "erin@example.com") == "User"

    result = runner.invoke(main, ["create-admin", "--promote", "erin"], input="y\n")
    assert result.exit_code == 0, result.output
    assert "is now an administrator" in result.output
    assert role_of(database_url, "erin@example.com") == "Administrator"
    assert "nothing to do" in invoke(runner, "create-admin", "--promote", "erin", "--yes").output


def test_create_admin_promote_needs_the_exact_username(
    runner: CliRunner, app: Flask, database_url: str
) -> None:
    register(app.test_client(), "erin")
    for name in ("Erin", "erin@example.com", "eri"):
        result = runner.invoke(main, ["create-admin", "--promote", name, "--yes"])
        assert result.exit_code != 0, name
        assert "no account" in result.output
    assert role_of(database_url, "erin@example.com") == "User"


def test_create_admin_with_an_explicit_username(runner: CliRunner, app: Flask, database_url: str) -> None:
    invoke(
        runner, "create-admin", "--email", "x@example.com", "--username", "boss", "--password", "password123"
    )
    assert query(database_url, "SELECT username FROM users") == [("boss",)]


def test_create_admin_refuses_a_short_password(runner: CliRunner, app: Flask, database_url: str) -> None:
    result = runner.invoke(main, ["create-admin", "--email", "short@example.com", "--password", "short"])
    assert result.exit_code != 0
    assert "8 characters" in result.output
    assert count(database_url, "users") == 0


def test_create_admin_refuses_a_taken_username(runner: CliRunner, app: Flask, database_url: str) -> None:
    register(app.test_client(), "frank")
    result = runner.invoke(
        main, ["create-admin", "--email", "frank@elsewhere.io", "--password", "password123"]
    )
    assert result.exit_code != 0
    assert "--username" in result.output
    assert count(database_url, "users") == 1


def test_create_admin_requires_an_email_or_a_username_to_promote(runner: CliRunner, app: Flask) -> None:
    result = runner.invoke(main, ["create-admin"])
    assert result.exit_code == 2
    assert "--email" in result.output
    assert "--promote" in result.output


# --- serve ----------------------------------------------------------------------------------------


def test_serve_refuses_production_without_a_secret_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []

    def fake_execv(path: str, args: list[str]) -> None:
        started.append(args)
        raise AssertionError("serve would have started gunicorn")

    monkeypatch.setattr("conduit.ops.cli.os.execv", fake_execv)
    monkeypatch.setenv("CONDUIT_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    result = runner.invoke(main, ["serve"])
    assert started == []
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "SECRET_KEY" in lines[0]
    assert "refusing to start" in lines[0]
    assert "Traceback" not in result.output


def test_serve_hands_over_to_gunicorn_with_the_options(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []

    def fake_execv(path: str, args: list[str]) -> None:
        started.append(list(args))

    monkeypatch.setattr("conduit.ops.cli.os.execv", fake_execv)
    result = runner.invoke(main, ["serve", "--bind", "127.0.0.1:9999", "--workers", "3", "--timeout", "10"])
    assert result.exit_code == 0, result.output
    assert len(started) == 1
    args = started[0]
    assert args[1:3] == ["-m", "gunicorn"]
    assert args[args.index("--bind") + 1] == "127.0.0.1:9999"
    assert args[args.index("--workers") + 1] == "3"
    assert args[args.index("--timeout") + 1] == "10"
    assert Path(args[args.index("--config") + 1]).name == "gunicorn.conf.py"
    assert Path(args[args.index("--config") + 1]).is_file()
    assert args[-1] == "conduit.wsgi:app"


def test_nginx_config_derives_certificates_and_addresses_from_the_server_name(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    args = ["nginx-config", "--tls", "--server-name", "blog.example.org", "--output", str(site)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = site.read_text()
    assert "/etc/letsencrypt/live/blog.example.org/fullchain.pem" in text
    assert "/etc/letsencrypt/live/blog.example.org/privkey.pem" in text
    assert "example.com" not in text
    assert "listen 0.0.0.0:443" in text
    assert "listen [::]:443" in text
    assert "listen 127.0.0.1:" not in text


def test_nginx_config_for_localhost_listens_on_loopback_only(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    result = CliRunner().invoke(main, ["nginx-config", "--output", str(site)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "listen 127.0.0.1:8080" in site.read_text()
    assert "listen 0.0.0.0" not in site.read_text()


def test_the_demo_account_the_seed_prints_can_sign_in(runner: CliRunner, app: Flask) -> None:
    """README: sign in as demo1@demo.example.com with password123 after `conduit seed`."""
    result = invoke(runner, "seed", "--users", "2", "--articles", "0")
    hint = result.stdout.strip().splitlines()[-1]
    assert hint == "seed: sign in as demo1@demo.example.com (demo2@..., ...) with the password 'password123'"
    login = {"user": {"email": "demo1@demo.example.com", "password": "password123"}}
    response = app.test_client().post("/api/users/login", json=login)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["username"] == "demo1"
    readme = (REPO / "README.md").read_text()
    assert "`demo1@demo.example.com`" in readme
    assert "`password123`" in readme


@pytest.mark.parametrize(
    ("email", "username", "password", "refusal"),
    [
        ("notanemail", "goodname", "long-enough-9", "email"),
        ("ok@example.com", "bad name!", "long-enough-9", "username"),
        ("short@example.com", "shorty", "seven77", "password"),
    ],
)
def test_create_admin_obeys_the_apis_rules(
    runner: CliRunner, app: Flask, email: str, username: str, password: str, refusal: str
) -> None:
    """One path for accounts (users.service): the CLI refuses what registration refuses."""
    args = ["create-admin", "--email", email, "--username", username, "--password", password]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1].startswith(f"Error: {refusal} ")
    assert count_users(app) == 0


def test_create_admin_sees_a_username_taken_in_another_case(runner: CliRunner, app: Flask) -> None:
    register(app.test_client(), "Alice")
    result = runner.invoke(
        main,
        ["create-admin", "--email", "new@example.com", "--username", "alice", "--password", "long-enough-9"],
    )
    assert result.exit_code != 0
    assert "Alice" in result.output


def test_seed_refuses_a_password_registration_would_refuse(runner: CliRunner, app: Flask) -> None:
    result = runner.invoke(main, ["seed", "--users", "2", "--articles", "0", "--password", "short"])
    assert result.exit_code != 0
    assert "password" in result.output
    assert count_users(app) == 0


def count_users(application: Flask) -> int:
    with get_db_of(application).engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one())


@pytest.mark.parametrize(
    "command",
    [
        ["seed", "--users", "2", "--articles", "0"],  # the default demo password is password123
        ["create-admin", "--email", "root@example.com", "--password", "Password123"],
    ],
)
def test_the_cli_refuses_a_common_password_when_the_blocklist_is_on(
    runner: CliRunner, app: Flask, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Issue 14, finding 11: the CLI makes accounts through the API's rules, the blocklist included."""
    monkeypatch.setenv("PASSWORD_BLOCKLIST", "true")
    result = runner.invoke(main, command)
    assert result.exit_code != 0
    assert "password is too common; choose another" in result.output
    assert count_users(app) == 0
