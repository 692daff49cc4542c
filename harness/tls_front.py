"""A private nginx that terminates TLS for one host name and passes every request to an HTTP origin on
this machine (gunicorn, or the nginx of ``make stack``).

It adds nothing of its own (no header, no cache, no static file): the site behind it answers everything.
Like a CDN in front of an origin, it asks the origin by the origin's own name (``Host: 127.0.0.1:PORT``),
since the site answers only the names it serves (TRUSTED_HOSTS, nginx's server_name). It runs in the
foreground as our child and is stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conduit.ops.nginx_config import DEBIAN_MIME_TYPES, worker_user_for
from harness.net import port_in_use, wait_for
from harness.tls import TlsIdentity

CONFIG = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
daemon off;

events {{
    worker_connections 512;
}}

http {{
    include {mime_types};
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;

    upstream origin {{
        server {origin};
        keepalive 8;
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name {host};
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 4m;

        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host {origin};
            proxy_set_header X-Forwarded-Proto https;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def find_nginx() -> str:
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("nginx is not installed (bin/system-packages nginx)")


@contextmanager
def tls_front(prefix: Path, identity: TlsIdentity, port: int, origin: str) -> Iterator[str]:
    """Serve ``https://<identity.host>`` on 127.0.0.1:*port* in front of *origin* (host:port); yields
    the loopback address that Chromium's ``--host-resolver-rules`` should map the host name to."""
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    user = ""
    if os.geteuid() == 0:  # workers drop to this user; they only write to the temp dir
        worker = worker_user_for(prefix)
        user = f"user {worker};\n"
        shutil.chown(prefix / "tmp", worker)
    conf = prefix / "nginx.conf"
    conf.write_text(
        CONFIG.format(
            user=user,
            prefix=prefix,
            mime_types=DEBIAN_MIME_TYPES,
            origin=origin,
            port=port,
            host=identity.host,
            certificate=identity.certificate,
            key=identity.key,
        )
    )
    command = [find_nginx(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True, check=False)  # noqa: S603
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused {conf}: {checked.stderr.strip()}")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603 - our own config
    try:
        if not wait_for(lambda: port_in_use(port), 10, lambda: process.poll() is None, 0.1):
            raise RuntimeError(f"the TLS front did not start; see {prefix / 'error.log'}")
        yield f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
