"""The whole verification stack on one machine, all real and on loopback: PostgreSQL, N
`certverify serve` instances, nginx in front (docs/deploy.md, "A stack on one machine").

    python deploy/stack.py up --dir /tmp/stack [--instances 2] [--issue person samples/person.csv]

brings it up, prints the addresses and stays in the foreground until Ctrl-C, then stops
everything. Tests and benchmarks use `Stack` directly. Needs Debian's postgresql and nginx
(scripts/bootstrap.sh installs both). Nothing here is for production: authentication is
`trust` on loopback and the key passphrase is a test value; the production settings are in
deploy/nginx, deploy/systemd and deploy/postgres.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PASSPHRASE = "stack-test-passphrase"
DATABASE = "certgen"


class StackError(RuntimeError):
    """A part of the stack did not come up; the message names it and where its log is."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise StackError("PostgreSQL server binaries are missing: run scripts/bootstrap.sh")
    return Path(found[-1]).parent


def _wait(what: str, check, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    where = f" (log: {log})" if log else ""
    raise StackError(f"{what} did not come up within {timeout:.0f} s{where}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Instance:
    """One `certverify serve` process behind nginx."""

    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    folder: Path
    instances: int = 2
    #: nginx's per-client limits (limit_req rate syntax); the tests and benchmarks raise them.
    page_rate: str = "20r/s"
    form_rate: str = "10r/m"
    #: The instances' own rate limit (CERTVERIFY_RATE_LIMIT); 0 for load runs from one address.
    instance_rate_limit: int = 0
    access_log: bool = False
    #: nginx's passive health check: an instance that failed is left alone this long.
    fail_timeout: int = 5
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).resolve()
        self.pg_port = free_port()
        self.nginx_port = free_port()
        self.servers = [Instance(free_port(), self.folder / f"instance-{i + 1}.log") for i in range(self.instances)]
        #: PostgreSQL's own folder: outside `folder`, whose parents the postgres user may not be
        #: allowed to enter (pytest's temporary folders are private to root).
        self._pg_dir = Path(tempfile.mkdtemp(prefix="certgen-stack-pg-"))
        self._nginx: subprocess.Popen | None = None
        self._pg_started = False

    # -- addresses ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The public address: nginx."""
        return f"http://127.0.0.1:{self.nginx_port}"

    def database_url(self, role: str) -> str:
        return f"postgresql+psycopg://{role}@127.0.0.1:{self.pg_port}/{DATABASE}"

    @property
    def owner_url(self) -> str:
        from certgen.registry.roles import OWNER_ROLE
        return self.database_url(OWNER_ROLE)

    @property
    def web_url(self) -> str:
        from certgen.registry.roles import WEB_ROLE
        return self.database_url(WEB_ROLE)

    @property
    def keys(self) -> Path:
        return self.folder / "keys"

    def environ(self, **extra: str) -> dict[str, str]:
        """Environment for a `certgen` or `certverify` process of this stack."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTGEN_", "CERTVERIFY_"))}
        env.update({"PYTHONPATH": str(ROOT), "CERTGEN_KEYS": str(self.keys), "CERTGEN_DATA": str(self.folder / "data"),
                    "CERTGEN_REGISTRY_URL": self.owner_url, "CERTGEN_KEY_PASSPHRASE": PASSPHRASE,
                    "CERTGEN_ACTOR": "stack"}, **self.env)
        env.update(extra)
        return env

    # -- life cycle -----------------------------------------------------------------------
    def up(self, issue: list[tuple[str, Path]] = ()) -> "Stack":
        """Start everything; on any failure, stop what started and raise StackError."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._start_postgres()
            self._prepare_database()
            self._make_keys()
            for kind, path in issue:
                self.certgen("issue", kind, str(path), "--output", str(self.folder / "issued" / f"{Path(path).stem}-{kind}"))
            for index in range(self.instances):
                self.start_instance(index)
            self._start_nginx()
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Stop nginx, the instances and PostgreSQL (in that order); safe to call twice."""
        if self._nginx is not None:
            self._nginx.terminate()
            try:
                self._nginx.wait(10)
            except subprocess.TimeoutExpired:
                self._nginx.kill()
            self._nginx = None
        for index in range(len(self.servers)):
            self.stop_instance(index)
        if self._pg_started:
            subprocess.run([*self._as_postgres(), str(_pg_bin() / "pg_ctl"), "-D", str(self._pg_dir / "data"),
                            "-m", "fast", "stop"], capture_output=True, timeout=60)
            self._pg_started = False
        shutil.rmtree(self._pg_dir, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- instances ------------------------------------------------------------------------
    def start_instance(self, index: int, timeout: float = 30.0) -> None:
        server = self.servers[index]
        env = self.environ(CERTGEN_REGISTRY_URL=self.web_url, CERTVERIFY_RATE_LIMIT=str(self.instance_rate_limit))
        handle = open(server.log, "ab")
        server.process = subprocess.Popen(
            [sys.executable, "-m", "verify.cli", "--trust-list", str(self.keys / "trustlist.json"),
             "--root", str(self.keys / "root.cert.pem"), "--registry", self.web_url,
             "serve", "--host", "127.0.0.1", "--port", str(server.port), "--workers", "1", "--proxy-headers"],
            env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True)
        handle.close()
        _wait(f"web instance {index + 1} on port {server.port}",
              lambda: server.process.poll() is None and _healthy(f"{server.url}/api/v1/health"), timeout, server.log)

    def stop_instance(self, index: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop instance `index` with `sig` (SIGKILL: a crash, nothing finishes)."""
        server = self.servers[index]
        if server.process is None:
            return
        if server.process.poll() is None:
            os.killpg(server.process.pid, sig)
            try:
                server.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(timeout)
        server.process = None

    def restart_instance(self, index: int) -> None:
        """Graceful stop (SIGTERM: requests in flight finish), then start and wait until healthy."""
        self.stop_instance(index)
        self.start_instance(index)

    def rolling_restart(self, timeout: float = 60.0) -> None:
        """Restart every instance in turn without failing a request (docs/deploy.md): after an
        instance is healthy again, wait until nginx sends it requests again (its fail_timeout has
        passed and a request went there) before the next instance goes down."""
        for index in range(len(self.servers)):
            self.restart_instance(index)
            address = f"127.0.0.1:{self.servers[index].port}"
            _wait(f"nginx routing to instance {index + 1} again",
                  lambda: self._answered_by(address), timeout, self.folder / "nginx" / "nginx-error.log")

    def _answered_by(self, address: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=5) as response:
                return address in (response.headers.get("X-Upstream") or "")
        except (urllib.error.URLError, OSError):
            return False

    # -- tools ----------------------------------------------------------------------------
    def certgen(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
                timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `certgen ARGS` against the stack's registry as the owner role."""
        result = subprocess.run([sys.executable, "-m", "certgen.cli", *args], env=env or self.environ(),
                                capture_output=True, text=True, cwd=self.folder, timeout=timeout)
        if check and result.returncode != 0:
            raise StackError(f"certgen {' '.join(args)} failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result

    def psql(self, sql: str, role: str = "postgres") -> subprocess.CompletedProcess:
        """Run SQL as `role` through psql; returns the completed process (check returncode)."""
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", role, "-d", DATABASE,
                               "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql],
                              capture_output=True, text=True, timeout=60)

    # -- internals ------------------------------------------------------------------------
    @staticmethod
    def _as_postgres() -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _start_postgres(self) -> None:
        bindir = _pg_bin()
        self._pg_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self._pg_dir, user.pw_uid, user.pw_gid)
        data = self._pg_dir / "data"
        made = subprocess.run([*self._as_postgres(), str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                               "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], capture_output=True, timeout=120)
        if made.returncode != 0:
            raise StackError(f"initdb failed in {data}: {made.stderr.decode(errors='replace')}")
        log = self._pg_dir / "log"
        started = subprocess.run(
            [*self._as_postgres(), str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(log),
             "-o", f"-k {self._pg_dir} -p {self.pg_port} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c max_connections=200", "start"], capture_output=True, timeout=90)
        if started.returncode != 0:
            raise StackError(f"PostgreSQL did not start (log: {log}): {started.stderr.decode(errors='replace')}")
        self._pg_started = True

    def _prepare_database(self) -> None:
        """Roles, the database owned by the owner role, migrations (as the owner), grants."""
        from certgen.registry import Registry
        from certgen.registry.roles import OWNER_ROLE, WEB_ROLE, grant_statements

        admin = ["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-X", "-q"]
        roles = (HERE / "postgres" / "roles.sql").read_text()
        subprocess.run([*admin, "-d", "postgres", "-c", roles], check=True, capture_output=True, timeout=60)
        subprocess.run([*admin, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}"],
                       check=True, capture_output=True, timeout=60)
        Registry.open(self.owner_url).close()  # migrations, as the owner
        for statement in grant_statements(WEB_ROLE, OWNER_ROLE):
            result = self.psql(statement)
            if result.returncode != 0:
                raise StackError(f"grant failed: {statement}: {result.stderr}")

    def _make_keys(self) -> None:
        from certgen.keys import KeyStore

        KeyStore(self.keys).init(PASSPHRASE.encode(), now=datetime.now(timezone.utc))

    def _start_nginx(self, timeout: float = 20.0) -> None:
        self._nginx = self.proxy([s.port for s in self.servers], self.nginx_port, "nginx", timeout)

    def proxy(self, ports: list[int], listen: int, name: str, timeout: float = 20.0) -> subprocess.Popen:
        """An nginx with this stack's settings in front of `ports` (the benchmark also puts a bare
        endpoint behind one, so both are served the same way). The caller stops it."""
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise StackError("nginx is missing: run scripts/bootstrap.sh")
        folder = self.folder / name
        folder.mkdir(exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout={self.fail_timeout}s;"
                            for port in ports)
        values = {"DIR": str(folder), "PORT": str(listen), "SERVERS": servers,
                  "PAGE_RATE": self.page_rate, "FORM_RATE": self.form_rate,
                  "LOCATIONS": str(HERE / "nginx" / "certverify-locations.conf"),
                  "ACCESS_LOG": str(folder / "access.log") if self.access_log else "off"}
        text = (HERE / "nginx" / "certverify-test.conf.in").read_text()
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        config = folder / "nginx.conf"
        config.write_text(text)
        tested = subprocess.run([nginx, "-t", "-q", "-c", str(config), "-p", str(folder)],
                                capture_output=True, text=True, timeout=30)
        if tested.returncode != 0:
            raise StackError(f"nginx refuses {config}: {tested.stderr}")
        process = subprocess.Popen([nginx, "-c", str(config), "-p", str(folder)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up() -> bool:
            if process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", listen), timeout=1):
                    return True
            except OSError:
                return False

        _wait(f"nginx ({name}) on port {listen}", up, timeout, folder / "nginx-error.log")
        return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--dir", type=Path, required=True, help="Folder for the stack's data, keys and logs.")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--issue", nargs=2, action="append", default=[], metavar=("KIND", "FILE"),
                        help="Issue this sample into the registry first (repeatable).")
    args = parser.parse_args()
    stack = Stack(args.dir, instances=args.instances)
    stack.up([(kind, Path(path).resolve()) for kind, path in args.issue])
    print(f"stack up: {stack.url}  (instances: {', '.join(s.url for s in stack.servers)}; "
          f"registry {stack.owner_url}; web role {stack.web_url}); Ctrl-C stops it", flush=True)
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop:
            time.sleep(0.5)
    finally:
        stack.down()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
