"""nginx configuration for Conduit, rendered from ``deploy/nginx/*.j2`` for a target.

One template holds the http-context part (upstream, request-id map, log format, servers) for a plain HTTP
or a TLS deployment, proxying over HTTP (gunicorn) or the uwsgi protocol (uWSGI). A second one wraps it in
a whole ``nginx.conf`` for a private instance whose files all live under one prefix (``make stack``).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import jinja2

PACKAGE_DIR = Path(__file__).resolve().parents[1]
STATIC_ROOT = PACKAGE_DIR / "static"
DEBIAN_MIME_TYPES = Path("/etc/nginx/mime.types")
DEBIAN_UWSGI_PARAMS = Path("/etc/nginx/uwsgi_params")


class TemplateNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class NginxTarget:
    """Where and how nginx serves Conduit. The defaults are the loopback stack of ``make stack``."""

    upstreams: tuple[str, ...] = ("127.0.0.1:8001", "127.0.0.1:8002")
    protocol: Literal["http", "uwsgi"] = "http"
    #: Empty: loopback for ``localhost``, every address for a real server name.
    listen_addresses: tuple[str, ...] = ()
    http_port: int = 8080
    #: The names served (nginx's server_name, space-separated); another Host is closed unanswered (444).
    #: "_" serves any host (the container image, where the host is not known in advance).
    server_name: str = "localhost 127.0.0.1"
    static_root: Path = STATIC_ROOT
    #: Seconds browsers may keep a static file without asking again.
    static_max_age: int = 3600
    #: Must equal the app's MAX_CONTENT_LENGTH, so both refuse the same bodies.
    max_body_bytes: int = 1024 * 1024
    #: gunicorn's timeout: nginx waits as long as a worker may take.
    app_timeout: int = 30
    metrics_allow: tuple[str, ...] = ()
    access_log: str = "/var/log/nginx/conduit-access.log"
    error_log: str = "/var/log/nginx/conduit-error.log"
    uwsgi_params: Path = DEBIAN_UWSGI_PARAMS
    tls: bool = False
    tls_port: int = 443
    #: Empty: where certbot puts the certificate of the first server name.
    certificate: str = ""
    certificate_key: str = ""
    acme_root: str = "/var/www/letsencrypt"
    hsts_max_age: int = 63072000

    def __post_init__(self) -> None:
        name = (self.server_name.split() or ["localhost"])[0]
        if not self.listen_addresses:
            local = name in ("localhost", "127.0.0.1", "::1")
            everywhere = ("0.0.0.0", "[::]")  # noqa: S104 - a public server name: every address  # nosec B104
            object.__setattr__(self, "listen_addresses", ("127.0.0.1",) if local else everywhere)
        if not self.certificate:
            object.__setattr__(self, "certificate", f"/etc/letsencrypt/live/{name}/fullchain.pem")
        if not self.certificate_key:
            object.__setattr__(self, "certificate_key", f"/etc/letsencrypt/live/{name}/privkey.pem")

    @property
    def variant(self) -> str:
        return "tls" if self.tls else "plain"


@dataclass(frozen=True)
class StandaloneNginx:
    """A private nginx: pid file, logs and temp files under *prefix*, nothing of the system's touched."""

    prefix: Path
    site: NginxTarget
    worker_processes: int = 1
    mime_types: Path = DEBIAN_MIME_TYPES
    #: The user of worker processes when nginx starts as root (ignored otherwise).
    user: str | None = field(default=None)

    @property
    def conf_file(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        return self.prefix / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def temp_dir(self) -> Path:
        return self.prefix / "tmp"


def templates_dir() -> Path:
    """``deploy/nginx`` of the checkout this package runs from (or of the working directory)."""
    for candidate in (Path.cwd() / "deploy" / "nginx", PACKAGE_DIR.parents[1] / "deploy" / "nginx"):
        if (candidate / "conduit.conf.j2").is_file():
            return candidate
    raise TemplateNotFoundError("deploy/nginx/conduit.conf.j2 not found; run from the Conduit checkout")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        # nginx configuration, not HTML: nothing to escape
        autoescape=False,  # noqa: S701  # nosec B701
        keep_trailing_newline=True,
    )


def render_site(target: NginxTarget) -> str:
    """The http-context configuration (for /etc/nginx/sites-enabled/ or a private nginx.conf)."""
    values = asdict(target) | {"variant": target.variant}
    return _environment().get_template("conduit.conf.j2").render(**values)


def render_standalone(nginx: StandaloneNginx) -> str:
    return (
        _environment()
        .get_template("nginx.conf.j2")
        .render(
            prefix=nginx.prefix,
            user=nginx.user if os.geteuid() == 0 else None,
            worker_processes=nginx.worker_processes,
            pid_file=nginx.pid_file,
            error_log=nginx.error_log,
            mime_types=nginx.mime_types,
            temp_dir=nginx.temp_dir,
            site=render_site(nginx.site),
        )
    )


def write_standalone(nginx: StandaloneNginx) -> Path:
    """Write the private nginx.conf and make the directories it names; returns the conf file."""
    nginx.prefix.mkdir(parents=True, exist_ok=True)
    nginx.temp_dir.mkdir(exist_ok=True)
    nginx.conf_file.write_text(render_standalone(nginx))
    if os.geteuid() == 0 and nginx.user:
        # Workers run as nginx.user and buffer bodies in the temp dir.
        entry = pwd.getpwnam(nginx.user)
        os.chown(nginx.temp_dir, entry.pw_uid, entry.pw_gid)
    return nginx.conf_file


def worker_user_for(*paths: Path) -> str:
    """Who nginx's workers should run as when started by root: www-data when it can reach every one of
    *paths* (static files to read, the prefix where it buffers bodies), otherwise the owner of the first
    (a checkout under /root, or pytest's 0700 temp dirs, are closed to www-data)."""
    try:
        pwd.getpwnam("www-data")
    except KeyError:
        return pwd.getpwuid(paths[0].stat().st_uid).pw_name
    for path in paths:
        existing = [part for part in [path, *path.parents] if part.exists()]
        if not all(os.stat(part).st_mode & 0o005 == 0o005 for part in existing):
            return pwd.getpwuid(paths[0].stat().st_uid).pw_name
    return "www-data"
