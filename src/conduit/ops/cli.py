"""The ``conduit`` command: deploy, serve, seed, create-admin."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask

from conduit.settings import ConfigError
from conduit.startup import load_settings_or_exit, refuse
from conduit.storage.database import get_db


def _app(*, check_database: bool = False) -> Flask:
    """The app, or one line naming the setting and exit status 4 (:mod:`conduit.startup`)."""
    from conduit.app import create_app

    settings = load_settings_or_exit(check_database=check_database)
    try:
        return create_app(settings)
    except ConfigError as exc:  # a log sink that cannot open
        refuse(exc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conduit")
def main() -> None:
    """Conduit, the RealWorld API. Configuration comes from the environment, `.env` and the YAML file
    named by CONDUIT_CONFIG_FILE; CONDUIT_ENV picks the profile (development, testing, production)."""


@main.command()
@click.option("-v", "--verbose", is_flag=True, help="Also show each migration as Alembic runs it.")
def deploy(verbose: bool) -> None:
    """Prepare the database: run the migrations and create or correct the roles (it grants no role:
    see create-admin). Safe to run on every release: a second run changes nothing and says so. The
    database must exist (createdb); its tables need not."""
    import logging

    from conduit.ops.deploy import run_deploy

    app = _app(check_database=True)
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    with app.app_context():
        report = run_deploy()
        engine = get_db().engine
    database = engine.url.render_as_string(hide_password=True) if engine is not None else "?"
    for line in report.changes:
        click.echo(f"deploy: {line}")
    for line in report.notes:
        click.echo(f"deploy: note: {line}")
    if report.changes:
        click.echo(f"deploy: done, {len(report.changes)} change(s) on {database}")
    else:
        click.echo(f"deploy: nothing to do; {database} is up to date")


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--bind", "-b", help="Address to listen on (default: 127.0.0.1:$PORT, PORT defaults to 8000).")
@click.option(
    "--workers",
    "-w",
    type=int,
    help="Worker processes (default: WEB_CONCURRENCY or cores + 1; 2 threads each).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="gunicorn configuration file (default: deploy/gunicorn.conf.py).",
)
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def serve(
    bind: str | None, workers: int | None, config_path: Path | None, gunicorn_args: tuple[str, ...]
) -> None:
    """Serve the API with gunicorn in the foreground. The configuration is checked first, so an
    unsafe production setting stops here with one line. Extra arguments go to gunicorn."""
    load_settings_or_exit()
    config_file = config_path or _default_gunicorn_config()
    args = [sys.executable, "-m", "gunicorn", "--config", str(config_file)]
    if bind:
        args += ["--bind", bind]
    if workers:
        args += ["--workers", str(workers)]
    args += [*gunicorn_args, "conduit.wsgi:app"]
    sys.stdout.flush()
    os.execv(sys.executable, args)  # noqa: S606 - replaces this process with gunicorn, by design


def _default_gunicorn_config() -> Path:
    for candidate in (
        Path.cwd() / "deploy" / "gunicorn.conf.py",
        Path(__file__).resolve().parents[3] / "deploy" / "gunicorn.conf.py",
    ):
        if candidate.is_file():
            return candidate
    raise click.ClickException("deploy/gunicorn.conf.py not found; pass --config")


@main.command()
@click.option("--users", "user_count", default=50, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option(
    "--articles", "article_count", default=200, show_default=True, type=click.IntRange(0, 10_000_000)
)
@click.option(
    "--seed",
    "random_seed",
    default=42,
    show_default=True,
    help="Random seed: the same seed gives the same data.",
)
@click.option("--password", default="password123", show_default=True, help="Password of every demo account.")
def seed(user_count: int, article_count: int, random_seed: int, password: str) -> None:
    """Fill the database with realistic demo data: users who follow each other, articles with tags,
    favourites and comments. Accounts are named demo<N> (password: --password). Run `conduit deploy`
    first. Adds to what is there; usernames already taken are skipped."""
    from conduit.articles.cache import invalidate_lists
    from conduit.ops.seeding import DEMO_EMAIL_DOMAIN, seed_database
    from conduit.tags.cache import invalidate_tags
    from conduit.users.service import describe_error
    from conduit.web.errors import ApiError

    app = _app()
    with app.app_context():
        try:
            summary = seed_database(
                get_db(),
                user_count=user_count,
                article_count=article_count,
                random_seed=random_seed,
                password=password,
            )
        except ApiError as exc:
            raise click.ClickException(describe_error(exc)) from None
        invalidate_tags()
        invalidate_lists()
    click.echo("seed: " + ", ".join(f"{count} {name}" for name, count in summary.items()))
    click.echo(f"seed: sign in as demo1@{DEMO_EMAIL_DOMAIN} (demo2@..., ...) with the password {password!r}")


@main.command("create-admin")
@click.option("--email", help="E-mail of the new administrator account.")
@click.option("--username", help="Username of the new account (default: the part of the e-mail before @).")
@click.option(
    "--password", help="Password of the new account (asked for when not given; at least 8 characters)."
)
@click.option(
    "--promote",
    metavar="USERNAME",
    help="Instead: make the existing account with exactly this username an administrator, after showing "
    "it and asking for confirmation.",
)
@click.option("--yes", is_flag=True, help="With --promote: do not ask for confirmation.")
def create_admin(
    email: str | None, username: str | None, password: str | None, promote: str | None, yes: bool
) -> None:
    """Create an Administrator account with a password you choose, or --promote an existing account
    named by its username. Nothing a visitor does (registering, changing an e-mail) grants a role: an
    account that already holds the e-mail or username is never promoted by --email."""
    from conduit.ops.admins import AdminError, create_administrator, promote_account

    app = _app()
    with app.app_context():
        db = get_db().session
        try:
            if promote is not None:
                if email or username or password:
                    raise click.UsageError(
                        "--promote names an existing account; it takes no --email, --username or --password"
                    )
                promote_account(db, promote, confirm=None if yes else _confirm)
            elif email is None:
                raise click.UsageError("give --email (a new account) or --promote USERNAME (an existing one)")
            else:
                create_administrator(
                    db,
                    email=email,
                    username=username,
                    password=lambda: password or getpass.getpass("Password for the new administrator: "),
                )
        except AdminError as exc:
            raise click.ClickException(str(exc)) from None


def _confirm(description: str) -> bool:
    return click.confirm(f"create-admin: make {description} an administrator?", default=False)


@main.command("nginx-config")
@click.option(
    "--upstream",
    "upstreams",
    multiple=True,
    default=("127.0.0.1:8001", "127.0.0.1:8002"),
    show_default=True,
    help="An app server (host:port, or unix:/path for a uWSGI socket); repeat for each one.",
)
@click.option(
    "--protocol",
    type=click.Choice(["http", "uwsgi"]),
    default="http",
    show_default=True,
    help="http for gunicorn, uwsgi for uWSGI's uwsgi socket.",
)
@click.option(
    "--server-name",
    default="localhost 127.0.0.1",
    show_default=True,
    help="nginx server_name: the names served; another Host is closed unanswered (444). '_': any.",
)
@click.option(
    "--listen",
    "listen_addresses",
    multiple=True,
    help="Address to listen on; repeat. Default: 127.0.0.1 for --server-name localhost, otherwise every "
    "address (0.0.0.0 and [::]).",
)
@click.option("--port", "http_port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--tls/--no-tls", default=False, help="Add the HTTPS server, the HTTP->HTTPS redirect and HSTS."
)
@click.option("--tls-port", type=click.IntRange(1, 65535), default=443, show_default=True)
@click.option(
    "--certificate", default="", help="Default: certbot's /etc/letsencrypt/live/<server name>/fullchain.pem."
)
@click.option(
    "--certificate-key",
    default="",
    help="Default: certbot's /etc/letsencrypt/live/<server name>/privkey.pem.",
)
@click.option(
    "--acme-root",
    default="/var/www/letsencrypt",
    show_default=True,
    help="Directory certbot --webroot writes its challenges to.",
)
@click.option("--static-root", type=click.Path(path_type=Path), help="Static files (default: the package's).")
@click.option("--metrics-allow", multiple=True, help="Address or CIDR besides loopback allowed /metrics.")
@click.option("--access-log", default="/var/log/nginx/conduit-access.log", show_default=True)
@click.option("--error-log", default="/var/log/nginx/conduit-error.log", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write here instead of stdout.")
def nginx_config(output: Path | None, static_root: Path | None, **options: Any) -> None:
    """Render nginx's configuration for Conduit from deploy/nginx/conduit.conf.j2 (the http-context part:
    upstream, request-id map, log format, servers). The body-size limit is the app's MAX_CONTENT_LENGTH.
    Example: conduit nginx-config --tls --server-name example.com --listen 0.0.0.0 --listen [::] --port 80"""
    from conduit.ops.nginx_config import STATIC_ROOT, NginxTarget, TemplateNotFoundError, render_site

    max_body = load_settings_or_exit().max_content_length
    for key in ("upstreams", "listen_addresses", "metrics_allow"):
        options[key] = tuple(options[key])
    target = NginxTarget(
        static_root=(static_root or STATIC_ROOT).resolve(), max_body_bytes=max_body, **options
    )
    try:
        text = render_site(target)
    except TemplateNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"nginx-config: wrote {output}", err=True)
