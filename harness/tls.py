"""A throwaway TLS identity for a test: a private CA, a certificate for one host name, and the SPKI pin
that lets one browser accept exactly that key (``--ignore-certificate-errors-spki-list``).

Made with the ``openssl`` command (Debian's ``openssl`` package), in a directory the caller owns; nothing
is added to any trust store of the machine.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = 2


class TlsError(Exception):
    """openssl failed; the message is one line."""


@dataclass(frozen=True)
class TlsIdentity:
    host: str
    certificate: Path  # the host's certificate followed by the CA's (the chain nginx sends)
    key: Path
    spki_sha256: str  # base64 SHA-256 of the host key's SubjectPublicKeyInfo, as Chromium wants it


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, our own files
            ["openssl", *args],  # noqa: S607 - Debian's openssl, found on PATH
            input=stdin,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        raise TlsError("openssl is not installed (bin/system-packages openssl)") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise TlsError(f"openssl {args[0]} failed: {detail[-1] if detail else done.returncode}")
    return done.stdout


def make_identity(directory: Path, host: str) -> TlsIdentity:
    """A CA and a certificate for *host* signed by it, valid for two days, under *directory*."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, request, leaf = directory / f"{host}.key", directory / f"{host}.csr", directory / f"{host}.pem"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(ca_key))
    _openssl(
        "req", "-x509", "-new", "-key", str(ca_key), "-sha256", "-days", str(DAYS),
        "-subj", "/CN=Conduit e2e test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(ca_cert),
    )  # fmt: skip
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={host}", "-out", str(request))
    extensions = directory / f"{host}.ext"
    extensions.write_text(
        f"subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", str(DAYS), "-sha256", "-extfile", str(extensions), "-out", str(leaf),
    )  # fmt: skip
    chain = directory / f"{host}.chain.pem"
    chain.write_bytes(leaf.read_bytes() + ca_cert.read_bytes())
    public = _openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER")
    pin = base64.b64encode(hashlib.sha256(public).digest()).decode()
    for secret in (ca_key, key):
        secret.chmod(0o600)
    return TlsIdentity(host, chain, key, pin)
