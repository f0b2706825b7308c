"""The broker's TLS files: make the ward's own CA and server certificate,
read what is on file, and give the broker its own copy (docs/operating.md,
"MQTT over TLS").  Files and keys only; ward/tls.py decides what is
needed.  Keys are EC P-256: every TLS 1.2 stack a device may carry speaks
ECDSA, and issuing one takes milliseconds."""

from __future__ import annotations

import os
import pwd
import socket
import ssl
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ward import tls
from ward.errors import ServiceError
from ward.settings import Settings


def ensure(settings: Settings, *, now: datetime | None = None,
           hostname: str | None = None) -> list[str]:
    """Make sure the broker's TLS files exist and will do: the operator's
    are checked, the ward's own CA made on first use and its server
    certificate issued anew when tls.renewal_reason says.  Returns lines for
    the operator (none when nothing changed and nothing is wrong)."""
    now = now or datetime.now(UTC)
    files = tls.layout(settings)
    if not files.own:
        return _check_operators(files, settings.mqtt_host, now)
    assert files.ca_key is not None
    done = []
    d = files.ca_cert.parent
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)  # the CA certificate is for anyone to read; each key is 0600
    if not (files.ca_cert.exists() and files.ca_key.exists()):
        _make_ca(files, now)
        done.append(f"made the ward's TLS certificate authority: give devices {files.ca_cert}")
    wanted = tls.server_names(settings, hostname if hostname is not None
                              else socket.gethostname())
    present = read_certificate(files.server_cert, files.ca_cert) \
        if files.server_cert.exists() and files.server_key.exists() else None
    reason = tls.renewal_reason(present, wanted, now)
    if reason:
        _issue_server(files, wanted, now)
        done.append(f"issued the broker's TLS certificate for {', '.join(wanted)}"
                    f" ({reason}), valid {tls.SERVER_DAYS} days")
    return done


def read_certificate(path: Path, ca_path: Path) -> tls.Certificate:
    """The names, end and issuer check of the first certificate in `path`."""
    cert = _load_cert(path)
    ca = _load_cert(ca_path)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = {n.lower() for n in sans.get_values_for_type(x509.DNSName)}
        names |= {str(a) for a in sans.get_values_for_type(x509.IPAddress)}
    except x509.ExtensionNotFound:
        names = set()
    return tls.Certificate(names=frozenset(names), not_after=cert.not_valid_after_utc,
                           issued_by_ca=_signed_by(cert, ca))


def install(settings: Settings, dest: Path, owner: str | None) -> bool:
    """Give the broker its own copy of the CA certificate, the server
    certificate and its key in `dest` (made first if need be), readable by
    the broker's OS user `owner` (None: ours) alone: an operator's key in a
    root-only directory, or the ward's own key (0600, ours), is then read by
    the broker and by no other local user.  Returns whether anything
    changed (a running broker must then load it again)."""
    ensure(settings)
    files = tls.layout(settings)
    dest.mkdir(parents=True, exist_ok=True)
    ids = _ids(owner)
    if ids:
        os.chown(dest, *ids)
    os.chmod(dest, 0o700)
    changed = False
    for src, name, mode in ((files.ca_cert, tls.CA_NAME, 0o644),
                            (files.server_cert, tls.CERT_NAME, 0o644),
                            (files.server_key, tls.KEY_NAME, 0o600)):
        try:
            data = src.read_bytes()
        except OSError as exc:
            raise ServiceError(f"cannot read the broker's TLS file {src}: {exc.strerror}") from exc
        target = dest / name
        if target.exists() and target.read_bytes() == data:
            continue
        _write(target, data, mode, ids)
        changed = True
    return changed


def client_context(ca_file: Path | str) -> ssl.SSLContext:
    """A TLS 1.2+ client context that trusts `ca_file` alone and checks the
    broker's name, for the ward's MQTT clients (paho's `tls_set_context`)."""
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ServiceError(f"cannot load the CA certificate {ca_file}: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


# ---------------------------------------------------------------- making


def _make_ca(files: tls.Layout, now: datetime) -> None:
    assert files.ca_key is not None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vward"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"vward CA {now:%Y-%m-%d}")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=tls.CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(files.ca_key, _key_pem(key), 0o600, None)
    _write(files.ca_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644, None)


def _issue_server(files: tls.Layout, names: tuple[str, ...], now: datetime) -> None:
    assert files.ca_key is not None
    ca = _load_cert(files.ca_cert)
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ServiceError(f"{files.ca_key} is not the ward's CA key (EC P-256)")
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.IPAddress(ip_address(n)) if tls.is_ip(n) else x509.DNSName(n) for n in names]
    host = next((n for n in names if n not in tls.LOOPBACK_NAMES), names[0])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vward"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(min(now + timedelta(days=tls.SERVER_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # The key first: a certificate on file always has its key beside it.
    _write(files.server_key, _key_pem(key), 0o600, None)
    _write(files.server_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644, None)


def _check_operators(files: tls.Layout, mqtt_host: str, now: datetime) -> list[str]:
    for path, setting in ((files.ca_cert, "VWARD_TLS_CA_FILE"),
                          (files.server_cert, "VWARD_TLS_CERT_FILE"),
                          (files.server_key, "VWARD_TLS_KEY_FILE")):
        if not path.is_file():
            raise ServiceError(f"{setting} names {path}, which is not a file")
    try:
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ServiceError(f"VWARD_TLS_KEY_FILE {files.server_key} is not an unencrypted PEM"
                           f" private key: {exc}") from exc
    if _load_cert(files.server_cert).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            key.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo):
        raise ServiceError(f"VWARD_TLS_KEY_FILE {files.server_key} is not the key of"
                           f" VWARD_TLS_CERT_FILE {files.server_cert}")
    server = read_certificate(files.server_cert, files.ca_cert)
    ca = read_certificate(files.ca_cert, files.ca_cert)
    return tls.operator_notes(server, ca, mqtt_host, now)


# ---------------------------------------------------------------- helpers


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise ServiceError(f"cannot read the certificate {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ServiceError(f"{path} is not a PEM certificate: {exc}") from exc


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ids(owner: str | None) -> tuple[int, int] | None:
    if owner is None or os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(owner)
    return entry.pw_uid, entry.pw_gid


def _write(path: Path, data: bytes, mode: int, ids: tuple[int, int] | None) -> None:
    """Write `path` whole (a reader never sees half a key), born with
    `mode` and owned by `ids` before it takes the name."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    if ids:
        os.chown(tmp, *ids)
    os.chmod(tmp, mode)
    tmp.replace(path)
