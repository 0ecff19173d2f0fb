"""A real OpenLDAP slapd for tests, started as a subprocess and stopped by PID.

`SlapdServer` writes a `slapd.conf` (mdb backend, suffix `dc=example,dc=org`, rootdn
`cn=admin,dc=example,dc=org` / `ADMIN_PASSWORD`) and a seed LDIF under pytest's tmp, loads the
seed offline with `slapadd`, runs `slapd -f slapd.conf -h ldap://127.0.0.1:PORT/ -d 0` and stops
it by PID. The session-scoped fixture `slapd_server` yields a started server; register this module
as a pytest plugin (`pytest_plugins = ["tests.slapd_server"]`).

Size limits, so that paging is needed: every search returns at most `SIZE_LIMIT` (500) entries
(`sizelimit`), paged searches (RFC 2696) included, except for `READER_DN`, whose `limits` line
lets paged searches return any number of entries (`size.prtotal=unlimited`); `LIMITED_DN` has no
such line and is stopped at 500. The rootdn has no limits at all (slapd never limits it), so tests
use the reader.

The port: slapd reads port 0 in `-h ldap://127.0.0.1:0/` as "the default port" and binds 389, so
it cannot bind port 0 itself. Instead the test process binds a socket to 127.0.0.1 port 0 with
SO_REUSEADDR and never listens on it: the kernel hands out a free port and keeps it reserved
(other binds without SO_REUSEADDR and outgoing connections' ephemeral ports skip it). slapd,
which sets SO_REUSEADDR on its listeners, may bind and listen on the same port while our socket
is not listening (Linux allows that). Once /proc shows slapd's own socket (an inode among
/proc/<pid>/fd) listening on the port, the reservation is closed. No window exists in which
another ordinary program could take the port.

Seed (`seed_ldif`): `PEOPLE` inetOrgPerson entries under ou=people with numbers in varied
notations ("+31 20 555 0007", "020-5550008", "(020) 555 0009", "0031 20 555 0010"); every 10th
has no number, every 7th a second telephoneNumber, every 5th a mobile, every 11th a homePhone.
Named entries: Jan Jansen (`JAN_DN`), the `CHANGED_UIDS` entries whose modifyTimestamp is
`RECENT_STAMP` (all others `OLD_STAMP`), and `TOUCH_UIDS`, free for tests that modify entries.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.processes import stop_process

SUFFIX = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "reader-secret"
LIMITED_DN = f"cn=limited,{SUFFIX}"
LIMITED_PASSWORD = "limited-secret"
PEOPLE_DN = f"ou=people,{SUFFIX}"
JAN_DN = f"uid=jan,{PEOPLE_DN}"
SIZE_LIMIT = 500
PEOPLE = 2400
OLD_STAMP = "20250101000000Z"
RECENT_STAMP = "20250601000000Z"
CHANGED_UIDS = tuple(f"user{i}" for i in (3, 14, 25, 36, 47))
TOUCH_UIDS = ("touch1", "touch2", "touch3", "touch4")
MODULE_PATHS = ("/usr/lib/ldap", "/usr/lib/x86_64-linux-gnu/ldap", "/usr/lib/aarch64-linux-gnu/ldap")
SCHEMA_DIR = Path("/etc/ldap/schema")
START_TIMEOUT = 15.0
# The name in the TLS server's certificate (tests resolve it to 127.0.0.1 with a fake resolver).
TLS_HOST = "directory.test"


def _number(i: int) -> str:
    """A Dutch fixed-line number in one of four notations, unique per i."""
    notation = i % 4
    if notation == 0:
        return f"+31 20 555 {i:04d}"
    if notation == 1:
        return f"020-555{i:04d}"
    if notation == 2:
        return f"(020) 555 {i:04d}"
    return f"0031 20 555 {i:04d}"


def person(i: int) -> dict[str, list[str]]:
    """The attributes of seeded person `user{i}` (without objectClass and timestamps)."""
    attributes: dict[str, list[str]] = {
        "uid": [f"user{i}"],
        "cn": [f"Person {i}"],
        "sn": [f"{i}"],
        "mail": [f"user{i}@example.org"],
    }
    if i % 10 != 0:
        attributes["telephoneNumber"] = [_number(i)]
        if i % 7 == 0:
            attributes["telephoneNumber"].append(f"+31 30 777 {i:04d}")
        if i % 5 == 0:
            attributes["mobile"] = [f"06 2{i:07d}"]
        if i % 11 == 0:
            attributes["homePhone"] = [f"+31 10 888 {i:04d}"]
    if i % 3 == 0:
        attributes["displayName"] = [f"Display {i}"]
        attributes["title"] = ["Engineer"]
        attributes["o"] = ["Example BV"]
        attributes["ou"] = ["R&D"]
    return attributes


def people_with_numbers() -> int:
    """How many seeded entries the connector's default filter returns (those with a number)."""
    return sum(1 for i in range(PEOPLE) if i % 10 != 0) + 1 + len(TOUCH_UIDS)  # + Jan + touch


def _ldif_entry(
    dn: str, object_classes: tuple[str, ...], attributes: dict[str, list[str]], stamp: str
) -> str:
    lines = [f"dn: {dn}"]
    lines += [f"objectClass: {oc}" for oc in object_classes]
    for name, values in attributes.items():
        lines += [f"{name}: {value}" for value in values]
    lines += [f"createTimestamp: {OLD_STAMP}", f"modifyTimestamp: {stamp}"]
    return "\n".join(lines) + "\n\n"


def seed_ldif() -> str:
    """The LDIF `slapadd` loads: the suffix, the bind accounts, ou=people and its people."""
    person_classes = ("inetOrgPerson",)
    text = _ldif_entry(SUFFIX, ("dcObject", "organization"), {"dc": ["example"], "o": ["Example"]}, OLD_STAMP)
    for dn, password in ((READER_DN, READER_PASSWORD), (LIMITED_DN, LIMITED_PASSWORD)):
        cn = dn.split(",", 1)[0].split("=", 1)[1]
        text += _ldif_entry(
            dn,
            ("organizationalRole", "simpleSecurityObject"),
            {"cn": [cn], "userPassword": [password]},
            OLD_STAMP,
        )
    text += _ldif_entry(PEOPLE_DN, ("organizationalUnit",), {"ou": ["people"]}, OLD_STAMP)
    jan = {
        "uid": ["jan"],
        "cn": ["Jan Jansen"],
        "sn": ["Jansen"],
        "givenName": ["Jan"],
        "displayName": ["Jan Jansen (Sales)"],
        "mail": ["jan@example.org"],
        "o": ["Acme BV"],
        "title": ["Account manager"],
        "ou": ["Sales"],
        "telephoneNumber": ["+31 (0)20 123 4567", "020 765 4321"],
        "mobile": ["06-12345678"],
        "homePhone": ["+31 70 999 0000"],
    }
    text += _ldif_entry(JAN_DN, person_classes, jan, OLD_STAMP)
    for number, uid in enumerate(TOUCH_UIDS, start=1):
        attributes = {
            "uid": [uid],
            "cn": [f"Touch {number}"],
            "sn": [uid],
            "telephoneNumber": [f"+31 40 444 {number:04d}"],
        }
        text += _ldif_entry(f"uid={uid},{PEOPLE_DN}", person_classes, attributes, OLD_STAMP)
    for i in range(PEOPLE):
        stamp = RECENT_STAMP if f"user{i}" in CHANGED_UIDS else OLD_STAMP
        text += _ldif_entry(f"uid=user{i},{PEOPLE_DN}", person_classes, person(i), stamp)
    return text


def make_certificates(folder: Path, *, host: str = TLS_HOST) -> tuple[str, Path, Path]:
    """A throwaway CA and a server certificate for `host` signed by it (EC P-256). Returns (CA
    certificate PEM text, server certificate file, key file).

    Valid from 2000 to 2099: OpenSSL checks validity against the real clock, which a suite run
    with `--clock` (time-machine) does not move, so the window must not depend on "now".
    """
    start, end = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2099, 12, 31, tzinfo=dt.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("CTI test CA"))
        .issuer_name(name("CTI test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.crt", folder / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file


def _reserve_port() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port with SO_REUSEADDR, not listening (see the module
    docstring): slapd may bind the port, other programs may not."""
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reservation.bind(("127.0.0.1", 0))
    return reservation


def slapd_binary(name: str = "slapd") -> str:
    """The path of slapd (or slapadd); raises RuntimeError with the install command if missing."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        raise RuntimeError(
            f"{name} is not installed: the LDAP connector tests run a real OpenLDAP server. Install it "
            "with `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd "
            "ldap-utils` (bin/test does this)."
        )
    return found


def module_path() -> str:
    """The folder with slapd's loadable backends (back_mdb), per Debian's layout."""
    for folder in MODULE_PATHS:
        if any(Path(folder).glob("back_mdb*")):
            return folder
    raise RuntimeError(f"slapd's back_mdb module was not found in {', '.join(MODULE_PATHS)}.")


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on: its socket inodes (/proc/<pid>/fd) matched with the
    LISTEN rows (state 0A) of /proc/<pid>/net/tcp and tcp6."""
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir() if fd_dir.exists() else ():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            columns = row.split()
            if len(columns) > 9 and columns[3] == "0A" and columns[9] in inodes:
                ports.add(int(columns[1].rsplit(":", 1)[1], 16))
    return ports


class SlapdServer:
    """A slapd process on 127.0.0.1 with the seed of `seed_ldif` (see the module docstring)."""

    def __init__(self, *, folder: Path | None = None, tls: bool = False) -> None:
        self.folder = folder
        self.tls = tls
        self.port = 0
        self.url = ""
        self.tls_port = 0
        self.ca_pem = ""
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SlapdServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The slapd process id while it runs."""
        return self._process.pid if self._process is not None else None

    def settings(self, **overrides: str) -> dict[str, str]:
        """LDAP preset settings that read this server as the reader (paged, no size cap)."""
        values = {
            "server_url": self.url,
            "start_tls": "no",
            "verify_tls": "yes",
            "bind_dn": READER_DN,
            "bind_password": READER_PASSWORD,
            "base_dn": SUFFIX,
            "page_size": "200",
            "directory_type": "openldap",
        }
        values.update(overrides)
        return values

    def _write_config(self, root: Path) -> Path:
        schemas = "".join(
            f"include {SCHEMA_DIR / name}\n"
            for name in ("core.schema", "cosine.schema", "inetorgperson.schema")
        )
        (root / "db").mkdir()
        config = root / "slapd.conf"
        tls = ""
        if self.tls:
            self.ca_pem, cert_file, key_file = make_certificates(root)
            tls = (
                f"TLSCACertificateFile {root / 'ca.crt'}\n"
                f"TLSCertificateFile {cert_file}\n"
                f"TLSCertificateKeyFile {key_file}\n"
            )
        config.write_text(
            f"{schemas}{tls}"
            f"pidfile {root / 'slapd.pid'}\n"
            f"modulepath {module_path()}\n"
            "moduleload back_mdb\n"
            f"sizelimit {SIZE_LIMIT}\n"
            "database mdb\n"
            "maxsize 104857600\n"
            f'suffix "{SUFFIX}"\n'
            f'rootdn "{ADMIN_DN}"\n'
            f"rootpw {ADMIN_PASSWORD}\n"
            f"directory {root / 'db'}\n"
            "index objectClass eq\n"
            "index telephoneNumber eq,sub\n"
            "index modifyTimestamp eq\n"
            f'limits dn.exact="{READER_DN}" size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} '
            "size.prtotal=unlimited\n"
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            "access to * by * read\n"
        )
        return config

    def start(self) -> None:
        """Write the config and seed, load it with slapadd, start slapd and wait until it answers."""
        if self._process is not None:
            return
        slapd, slapadd = slapd_binary("slapd"), slapd_binary("slapadd")
        self._dir = root = Path(tempfile.mkdtemp(prefix="slapd-", dir=self.folder))
        config = self._write_config(root)
        seed = root / "seed.ldif"
        seed.write_text(seed_ldif())
        loaded = subprocess.run(
            [slapadd, "-q", "-f", str(config), "-l", str(seed)], capture_output=True, text=True, check=False
        )
        if loaded.returncode != 0:
            raise RuntimeError(f"slapadd failed ({loaded.returncode}):\n{loaded.stdout}{loaded.stderr}")
        reservations = [_reserve_port() for _ in range(2 if self.tls else 1)]
        try:
            ports = [r.getsockname()[1] for r in reservations]
            urls = f"ldap://127.0.0.1:{ports[0]}/" + (f" ldaps://127.0.0.1:{ports[1]}/" if self.tls else "")
            log = (root / "slapd.log").open("wb")
            try:
                self._process = subprocess.Popen(
                    [slapd, "-f", str(config), "-h", urls, "-d", "0"], stdout=log, stderr=subprocess.STDOUT
                )
            finally:
                log.close()
            for port in ports:
                self._wait_listening(port)
        finally:
            for reservation in reservations:
                reservation.close()
        self.port = ports[0]
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls_port = ports[1] if self.tls else 0

    def _wait_listening(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = self.log_text()
                self.stop()
                raise RuntimeError(f"slapd exited at start-up:\n{output}")
            if port in listening_ports(self._process.pid):
                return
            time.sleep(0.05)
        output = self.log_text()
        self.stop()
        raise RuntimeError(f"slapd did not listen on port {port} within {START_TIMEOUT} s:\n{output}")

    def log_text(self) -> str:
        """What slapd wrote so far (for failure messages)."""
        if self._dir is None or not (self._dir / "slapd.log").exists():
            return ""
        return (self._dir / "slapd.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process by PID (terminate, then kill after 5 s) and remove its folder."""
        process, self._process = self._process, None
        stop_process(process)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self.port, self.url, self.tls_port = 0, "", 0


@pytest.fixture(scope="session")
def slapd_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    """A second slapd with TLS: StartTLS on `port`, LDAPS on `tls_port`, a certificate for
    `TLS_HOST` issued by a throwaway CA (`ca_pem`)."""
    with SlapdServer(folder=tmp_path_factory.mktemp("slapd-tls"), tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    """A started slapd with the seed directory, shared by the test session (files under pytest's tmp)."""
    with SlapdServer(folder=tmp_path_factory.mktemp("slapd")) as server:
        yield server
