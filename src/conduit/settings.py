"""Typed settings with three profiles, read from the environment, `.env` and an optional YAML file.

Precedence, highest first:

1. keyword arguments given to :func:`load_settings` (tests use these);
2. the process environment (``SECRET_KEY=... conduit serve``);
3. the ``.env`` file in the working directory;
4. the YAML file named by ``CONDUIT_CONFIG_FILE`` (keys are the lower-case setting names);
5. the defaults of the profile chosen by ``CONDUIT_ENV`` (``development`` when unset).

A production profile refuses an unsafe configuration: :func:`load_settings` raises
:class:`ConfigError` with a single line that names the offending setting.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from conduit import secret_strength

Profile = Literal["development", "testing", "production"]

DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
TEST_SECRET_KEY = "test-insecure-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
#: Values that must never sign production tokens: our own defaults and the classics of tutorials.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        DEV_SECRET_KEY,
        TEST_SECRET_KEY,
        "secret",
        "secret-key",
        "secret_key",
        "changeme",
        "change-me",
        "change_me",
        "hard to guess string",
        "dev",
        "development",
        "your-secret-key",
        "replace-me",
    }
)


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line naming the setting."""


def normalize_database_url(url: str) -> str:
    """Accept Heroku-style ``postgres://`` URLs and pick the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


DATABASE_URL_EXAMPLES = "e.g. postgresql://conduit@127.0.0.1:5432/conduit or sqlite:///var/conduit.db"


def database_fingerprint(url: str) -> str:
    """8 hex digits that name a database (host, port and name, or a SQLite file's absolute path), not
    its credentials: the default Redis key prefix."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        where = str(Path(parsed.database or ":memory:").resolve())
    else:
        where = f"{parsed.host or ''}:{parsed.port or ''}/{parsed.database or ''}"
    return hashlib.sha256(where.encode()).hexdigest()[:8]


class Settings(BaseSettings):
    """Every setting of the service. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # Profile and the database
    conduit_env: Profile = "development"
    debug: bool = False
    testing: bool = False
    secret_key: str = DEV_SECRET_KEY
    database_url: str = "sqlite:///var/conduit.db"
    #: SQLAlchemy connection pool (ignored by SQLite, which uses one connection per thread).
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_max_overflow: int = Field(default=5, ge=0, le=100)
    db_pool_timeout: float = Field(default=5.0, gt=0, le=60)
    #: Seconds a new database connection may take before the request fails (PostgreSQL).
    db_connect_timeout: int = Field(default=3, ge=1, le=60)
    #: Milliseconds one SQL statement may run on PostgreSQL before the server cancels it (0: no limit):
    #: a request thread stuck on a query or a lock ends with a 503 instead of hanging (gthread workers
    #: are not killed by gunicorn's timeout). Migrations run without it.
    db_statement_timeout_ms: int = Field(default=20000, ge=0, le=3_600_000)
    #: Milliseconds the readiness probe's query (the schema revision) may take.
    readiness_timeout_ms: int = Field(default=1000, ge=50, le=30000)
    #: Log SQL statements that take longer than this many milliseconds (0 disables).
    slow_query_ms: int = Field(default=500, ge=0)

    # Accounts, tokens and the API
    #: Argon2id cost (argon2-cffi's defaults, RFC 9106's second recommended option).
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=8, le=1024 * 1024)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)

    jwt_issuer: str = "conduit"
    jwt_expires_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    #: Largest request body accepted, in bytes; nginx's ``client_max_body_size`` must match.
    max_content_length: int = Field(default=1024 * 1024, ge=1024)
    #: Page size of list endpoints when the client sends no ``limit``, and the largest it may ask for.
    default_page_size: int = Field(default=20, ge=1)
    max_page_size: int = Field(default=100, ge=1)

    #: Removed (issue 14, finding 1): it made whoever registered that address an administrator. Still
    #: read so that a deployment that sets it is refused in one line rather than silently ignored.
    conduit_admin_email: str | None = None

    # Error tracking and logging (conduit.observability): every process (gunicorn's master and workers,
    # the CLI) installs the same handlers from these settings.
    #: Sentry DSN for error reports; unset: the SDK is not started and nothing is sent anywhere.
    sentry_dsn: str | None = None
    #: Share of requests Sentry traces for performance (0: errors only).
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    #: ``text`` (readable lines) or ``json`` (one JSON object per line); the production profile uses json.
    log_format: Literal["text", "json"] = "text"
    #: One INFO line per request on the ``conduit.request`` logger, whatever LOG_LEVEL says.
    log_requests: bool = True
    #: Also log successful probe requests (``/healthz``, ``/readyz``, ``/metrics``): a load balancer or
    #: Kubernetes asks every few seconds, so by default only the failing ones are logged.
    log_probes: bool = False
    #: Write logs to stderr (the service manager or the container runtime keeps them).
    log_stderr: bool = True
    #: Also append to ``<LOG_DIR>/conduit.log``; every process reopens the file when logrotate moves it.
    log_dir: Path | None = None
    #: Also send to syslog: a Unix socket (``/dev/log``) or ``host:port`` (UDP).
    log_syslog_address: str | None = None
    log_syslog_facility: Literal[
        "user", "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"
    ] = "user"
    #: E-mail ERROR records (with their traceback) to these addresses through MAIL_SERVER.
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mail_server: str | None = None
    mail_port: int = Field(default=25, ge=1, le=65535)
    #: STARTTLS before logging in and sending.
    mail_use_tls: bool = False
    mail_username: str | None = None
    mail_password: SecretStr | None = None
    mail_sender: str = "conduit@localhost"
    #: Seconds one SMTP conversation may take (it runs in a thread of its own, never in a request).
    mail_timeout: float = Field(default=5.0, gt=0, le=60)
    #: At most LOG_MAIL_LIMIT error mails per process in LOG_MAIL_WINDOW_SECONDS; the next mail sent
    #: says how many errors were not mailed.
    log_mail_limit: int = Field(default=5, ge=1, le=1000)
    log_mail_window_seconds: int = Field(default=600, ge=1, le=86400)

    # Redis (conduit.storage.shared_state) and the proxy in front
    #: Redis for state that all workers and hosts share (caches, rate limits); unset in embedded mode.
    redis_url: str | None = None
    #: Starts every Redis key, so that several deployments (or test runs) can share one Redis. Unset, it
    #: follows the database (``conduit:<8 hex digits of its address>:``): two servers that share a Redis
    #: share cached data only when they share the database too.
    redis_key_prefix: str = Field(default="", max_length=100, pattern=r"^[!-~]*$")
    #: Seconds a Redis connection or command may take before the request goes on without Redis.
    redis_timeout: float = Field(default=0.25, gt=0, le=10)
    #: After a Redis failure, seconds during which a worker does not try Redis at all.
    redis_backoff_seconds: float = Field(default=5.0, ge=0, le=300)
    #: Seconds ``GET /api/tags`` stays cached in Redis (0: not cached); writes invalidate it at once.
    tags_cache_seconds: int = Field(default=300, ge=0, le=86400)
    #: Seconds the anonymous first page of ``GET /api/articles`` (unfiltered, or by one tag) stays cached
    #: in Redis (0: not cached); every write that changes what such a page shows invalidates them all.
    list_cache_seconds: int = Field(default=60, ge=0, le=3600)
    #: With Redis: seconds a worker may trust its cached copy of an account's token version instead of
    #: reading it per request (0: read it every time). A password change evicts it at once in every worker
    #: (Redis pub/sub); the TTL only bounds a lost eviction.
    token_cache_seconds: int = Field(default=60, ge=0, le=3600)
    #: Proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted (nginx: 1). With 0 the
    #: headers are ignored, so a client that reaches the app directly cannot spoof its address.
    proxy_trusted_hops: int = Field(default=0, ge=0, le=5)

    # Metrics (conduit.observability.metrics)
    #: Serve Prometheus metrics at ``/metrics`` (to METRICS_ALLOW only).
    metrics_enabled: bool = True
    #: Addresses and networks (comma-separated, or a list in YAML) allowed to read ``/metrics``; the client
    #: address is ``request.remote_addr``, i.e. the real client behind nginx with PROXY_TRUSTED_HOPS=1.
    metrics_allow: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    #: A port of its own for ``/metrics`` (gunicorn listens on it too): when set, ``/metrics`` answers only
    #: on connections to this port, and this port answers nothing but ``/metrics`` and the probes, so a
    #: Service or Ingress that exposes the API port never exposes the metrics (issue 14, finding 8).
    #: Decided by the listening socket, never by the Host header. Needs gunicorn (``conduit serve``).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: The source revision deployed (a commit id), shown in ``conduit_build_info{revision}``.
    conduit_revision: str = Field(default="unknown", min_length=1, max_length=100)

    # Security (conduit.edge.rate_limits, conduit.edge.headers, conduit.edge.cors; docs/security.md).
    #: Rate limiting on or off; limits are strings such as ``10/minute;100/hour`` (Flask-Limiter syntax).
    rate_limit_enabled: bool = True
    #: Every ``/api/`` request, one bucket per client address.
    rate_limit_api: str = "600/minute"
    #: ``POST /api/users/login`` (docs/security.md, "Password guessing"): every attempt per client
    #: address; failed attempts per account and address; failed attempts per account from every address,
    #: which never refuses anyone by itself: once it is spent, each address gets only
    #: ``rate_limit_login_account_strict`` failures on that account (the owner's first try still counts).
    rate_limit_login_ip: str = "20/minute;200/hour"
    rate_limit_login_account_address: str = "5/minute;20/hour"
    rate_limit_login_account: str = "10/minute;50/hour"
    rate_limit_login_account_strict: str = "1/hour"
    #: ``POST /api/users`` per client address, and per e-mail sent.
    rate_limit_register_ip: str = "10/minute;50/hour"
    rate_limit_register_account: str = "5/minute;20/hour"
    #: Client addresses and networks no limit applies to (monitoring, benchmarks, the conformance suites
    #: on the host itself). Behind nginx this is the real client (PROXY_TRUSTED_HOPS=1).
    rate_limit_exempt: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.0/8", "::1"])
    #: Refuse a password on the list of common passwords from breaches (users.common_passwords; NIST
    #: SP 800-63B) at registration, password change, ``conduit create-admin`` and seeding: 422. On in the
    #: production profile. The official RealWorld suites register with ``password123``, which is on the
    #: list: run them against a production server with PASSWORD_BLOCKLIST=false.
    password_blocklist: bool = False
    #: Origins (``https://app.example.com``) whose browsers may call the API; empty: no CORS headers.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Host names the app answers (Flask's TRUSTED_HOSTS; a leading dot allows subdomains); another Host
    #: gets 400. Empty: any, for a production app behind a proxy that pins the host itself (the shipped
    #: nginx's default server, an Ingress host rule). Development and testing: loopback names only.
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    _profile_name: ClassVar[Profile] = "development"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        config_file = _lookup("CONDUIT_CONFIG_FILE")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        # The messages never repeat the URL: it may hold a password.
        url = normalize_database_url(value.strip())
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError:
            raise ValueError(f"is not a database URL; {DATABASE_URL_EXAMPLES}") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"{backend} is not supported; {DATABASE_URL_EXAMPLES}")
        if backend == "postgresql" and not make_url(url).database:
            raise ValueError(f"names no database; {DATABASE_URL_EXAMPLES}")
        return url

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        # The messages never repeat the URL: it may hold a password.
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        if parts.scheme == "unix" and not parts.path:
            raise ValueError("a unix:// URL needs the socket's path, e.g. unix:///run/redis/redis.sock")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError(f"a {parts.scheme}:// URL needs a host, e.g. {parts.scheme}://127.0.0.1:6379/0")
        from redis.connection import parse_url  # here: the CLI need not import redis to start

        invalid = "is not a valid Redis URL (check its port, database number and options)"
        if parts.scheme != "unix" and parts.path.strip("/") and not parts.path.strip("/").isdecimal():
            raise ValueError(invalid)  # redis-py would silently use database 0
        try:
            parse_url(value)  # type: ignore[no-untyped-call]
        except ValueError:
            raise ValueError(invalid) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", "log_syslog_facility", mode="before")
    @classmethod
    def _lower_choice(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "redis_url", "log_dir", "log_syslog_address", "mail_server", "mail_username", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "admins", "metrics_allow", "rate_limit_exempt", "cors_origins", "trusted_hosts", mode="before"
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # the environment, .env: "127.0.0.1, 10.0.0.0/8"
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("conduit_admin_email")
    @classmethod
    def _refuse_admin_email(cls, value: str | None) -> None:
        if value is not None and value.strip():
            raise ValueError(
                "is no longer supported: any visitor could register that address first and be made "
                "administrator; unset it and run `conduit create-admin` once"
            )
        return

    @field_validator("admins")
    @classmethod
    def _check_admins(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @field_validator("log_syslog_address")
    @classmethod
    def _check_syslog_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            host, _, port = value.rpartition(":")
            if not host or not port.isdecimal() or not 0 < int(port) < 65536:
                raise ValueError("must be a Unix socket (/dev/log) or host:port (UDP), e.g. 10.0.0.5:514")
        return value

    @model_validator(mode="after")
    def _key_prefix_follows_the_database(self) -> Settings:
        if not self.redis_key_prefix:
            self.redis_key_prefix = f"conduit:{database_fingerprint(self.database_url)}:"
        return self

    @model_validator(mode="after")
    def _mail_needs_a_server(self) -> Settings:
        if self.admins and not self.mail_server:
            raise ValueError("ADMINS is set but MAIL_SERVER is not; error mails need an SMTP server")
        return self

    @model_validator(mode="after")
    def _page_sizes(self) -> Settings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("DEFAULT_PAGE_SIZE must not exceed MAX_PAGE_SIZE")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @field_validator("metrics_allow", "rate_limit_exempt")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return value

    @field_validator(
        "rate_limit_api",
        "rate_limit_login_ip",
        "rate_limit_login_account_address",
        "rate_limit_login_account",
        "rate_limit_login_account_strict",
        "rate_limit_register_ip",
        "rate_limit_register_account",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse_many  # here: the CLI need not import limits to start

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as 10/minute;100/hour") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if (
                "*" in origin
                or parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
            ):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.com (no * either)")
        return [origin.rstrip("/").lower() for origin in value]

    # Bounds on what one request or one account may cost (docs/security.md "Bounds"; issue 14 findings 2
    # and 5): conduit.storage.database, conduit.edge.rate_limits, conduit.comments, conduit.tags.
    #: Milliseconds one SQL statement of a read (GET, HEAD) may run on PostgreSQL before the server cancels
    #: it (a 503). 0: reads get DB_STATEMENT_TIMEOUT_MS too. Writes and the CLI keep DB_STATEMENT_TIMEOUT_MS.
    db_read_statement_timeout_ms: int = Field(default=3000, ge=0, le=3_600_000)
    #: Units of RATE_LIMIT_API that one expensive read uses: a list filtered by tag, author or favouriting
    #: user, the feed, or a page at RATE_LIMIT_DEEP_OFFSET or beyond. Any other request uses 1.
    rate_limit_expensive_read_cost: int = Field(default=5, ge=1, le=600)
    rate_limit_deep_offset: int = Field(default=1000, ge=1)
    #: Articles (``POST /api/articles``) and comments one account may publish, however many addresses it uses.
    rate_limit_articles_user: str = "10/minute;100/hour"
    rate_limit_comments_user: str = "30/minute;300/hour"
    #: Comments one ``GET .../comments`` returns when the client sends no ``limit``, and the most it may ask.
    comments_page_size: int = Field(default=100, ge=1, le=1000)
    #: ``GET /api/tags``: the most used tags, at most this many.
    tags_shown: int = Field(default=50, ge=1, le=1000)

    @field_validator("rate_limit_articles_user", "rate_limit_comments_user")
    @classmethod
    def _check_write_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as 10/minute;100/hour") from None
        return value


LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"]


class DevelopmentSettings(Settings):
    conduit_env: Profile = "development"
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(LOOPBACK_HOSTS))
    debug: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "DEBUG"


class TestingSettings(Settings):
    conduit_env: Profile = "testing"
    testing: bool = True
    secret_key: str = TEST_SECRET_KEY
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(LOOPBACK_HOSTS))
    database_url: str = "sqlite:///var/conduit-test.db"
    # Argon2 at production cost would dominate the test suite's run time.
    argon2_time_cost: int = 1
    argon2_memory_kib: int = 64
    argon2_parallelism: int = 1
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"


class ProductionSettings(Settings):
    conduit_env: Profile = "production"
    secret_key: str = ""
    log_format: Literal["text", "json"] = "json"
    password_blocklist: bool = True

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> ProductionSettings:
        if not self.secret_key:
            raise ValueError(
                "SECRET_KEY is not set; generate one with: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.secret_key in KNOWN_DEFAULT_SECRETS:
            raise ValueError("SECRET_KEY is a known default value; set a random secret of at least 32 bytes")
        weak = secret_strength.weakness(self.secret_key)
        if weak is not None:
            raise ValueError(f"SECRET_KEY {weak}")
        if self.debug:
            raise ValueError("DEBUG is on; the production profile must run with DEBUG=false")
        if self.testing:
            raise ValueError("TESTING is on; the production profile must run with TESTING=false")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_security(self) -> ProductionSettings:
        for network in self.rate_limit_exempt:
            if ipaddress.ip_network(network, strict=False).prefixlen < 8:
                raise ValueError(
                    f"RATE_LIMIT_EXEMPT: {network} exempts a large part of the Internet from rate limits"
                )
        for origin in self.cors_origins:
            host = urlsplit(origin).hostname or ""
            if origin.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
                raise ValueError(
                    f"CORS_ORIGINS: {origin} is plain HTTP; allow https:// origins in production"
                )
        return self


PROFILES: dict[str, type[Settings]] = {
    "development": DevelopmentSettings,
    "testing": TestingSettings,
    "production": ProductionSettings,
}


def _lookup(name: str) -> str | None:
    """A variable from the environment, else from ``.env``: used before the settings exist."""
    value = os.environ.get(name)
    if value:
        return value
    env_file = Path(".env")
    if env_file.is_file():
        return dotenv_values(env_file).get(name) or None
    return None


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]).upper()
    message = str(first["msg"]).removeprefix("Value error, ")
    if not field:
        return message
    return f"{field}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings of the profile named by ``CONDUIT_ENV`` (or ``conduit_env=`` in *overrides*)."""
    profile = str(overrides.get("conduit_env") or _lookup("CONDUIT_ENV") or "development").lower()
    settings_cls = PROFILES.get(profile)
    if settings_cls is None:
        raise ConfigError(f"CONDUIT_ENV: unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    try:
        # The chosen profile names itself: CONDUIT_ENV=Production or a YAML `conduit_env` cannot relabel it.
        return settings_cls(**{**overrides, "conduit_env": profile})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
