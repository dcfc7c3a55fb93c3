"""The package as users get it: a wheel built from the project, installed into a fresh virtual
environment in a temporary folder, run from outside the checkout with PYTHONPATH unset.

It issues the sample data (templates and fonts from the package, Alembic migrations from the
package), verifies the registry's log and a certificate, and serves the web pages (Jinja2
templates and static files from the package). Nothing is downloaded: the wheel is built without
build isolation, and the venv sees the dependencies installed for this interpreter (a .pth
file naming its site-packages: like --system-site-packages, also when the suite itself runs
in a venv; the .pth files there, such as an editable install's finder, are not run).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SOURCES = ("pyproject.toml", "README.md", "certgen", "verify", "templates")
PASSPHRASE = "wheel-test-passphrase"


def _run(args, *, cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with the project's wheel installed (and nothing else of the project)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in SOURCES:  # a clean copy: the build writes build/ and *.egg-info next to the sources
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("CERTGEN_")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", base / "dist", source], cwd=base, env=env)
    wheels = list((base / "dist").glob("certgen-*.whl"))
    assert len(wheels) == 1
    _run([sys.executable, "-m", "venv", base / "venv"], cwd=base, env=env)
    packages = next((base / "venv" / "lib").glob("python*/site-packages"))
    (packages / "zz_certgen_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([base / "venv" / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheels[0]],
         cwd=base, env=env)
    shutil.rmtree(source)  # nothing of the sources is left to fall back on
    return base, env


def test_the_wheel_issues_the_sample_data_from_outside_the_checkout(venv):
    base, env = venv
    bin_dir = base / "venv" / "bin"
    work = base / "work"
    work.mkdir()
    shutil.copytree(ROOT / "samples", work / "samples")
    env = {**env, "CERTGEN_DATA": str(work / "data"), "CERTGEN_KEYS": str(work / "keys"),
           "CERTGEN_KEY_PASSPHRASE": PASSPHRASE}

    where = _run([bin_dir / "python", "-c", "import certgen, verify, certgen.render.templates as t; "
                  "print(certgen.__file__); print(verify.__file__); print(t.DEFAULT_FOLDER)"], cwd=work, env=env)
    installed = str(base / "venv")
    assert all(line.startswith(installed) for line in where.stdout.split()), where.stdout  # not the checkout

    _run([bin_dir / "certgen", "keys", "init"], cwd=work, env=env)
    result = _run([bin_dir / "certgen", "issue", "person", "samples/person.csv", "--json"], cwd=work, env=env)
    summary = json.loads(result.stdout)
    assert summary["issued"] == summary["rows"] > 0 and summary["problems"] == []
    assert summary["signature"] == "PAdES-B-B"
    issued = work / "data" / "issued" / "person-person"
    certificates = sorted((issued / "certificates").glob("*.pdf"))
    assert len(certificates) == summary["issued"] and len(list((issued / "sheets").glob("*.pdf"))) == summary["sheets"]
    assert "log intact" in _run([bin_dir / "certgen", "log", "--verify"], cwd=work, env=env).stdout
    check = _run([bin_dir / "certverify", "--trust-list", "keys/trustlist.json", "--root", "keys/root.cert.pem",
                  "--registry", f"sqlite:///{work / 'data' / 'registry.sqlite3'}", "pdf", "--workers", "1",
                  certificates[0]], cwd=work, env=env)
    assert "VALID" in check.stdout


def test_the_wheel_serves_the_web_pages(venv):
    """The web service's templates and static files come from the installed package."""
    base, env = venv
    work = base / "web"
    work.mkdir()
    script = textwrap.dedent(f"""
        import verify.web.app as app_module
        from pathlib import Path
        assert str(Path(app_module.__file__)).startswith({str(base / "venv")!r}), app_module.__file__
        from starlette.testclient import TestClient
        from certgen.keys import KeyStore
        from verify.web.app import create_app
        from verify.web.config import WebConfig
        store = KeyStore(Path("keys"))
        from datetime import datetime, timezone
        store.init(b"{PASSPHRASE}", now=datetime.now(timezone.utc))
        client = TestClient(create_app(WebConfig(trust_list=store.trustlist_path, root=store.root_cert_path)))
        home, css = client.get("/"), client.get("/static/style.css")
        print(home.status_code, "<html" in home.text.lower(), css.status_code, len(css.content) > 100)
    """)
    result = _run([base / "venv" / "bin" / "python", "-c", script], cwd=work, env=env)
    assert result.stdout.split() == ["200", "True", "200", "True"]


def test_the_lock_file_pins_every_declared_dependency():
    """Every dependency of pyproject.toml (and of the extras CI installs) is pinned in
    requirements.lock at a version its bounds allow: a dependency added without re-locking
    fails here, with the command that fixes it."""
    import re
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"],
                *project["optional-dependencies"]["postgres"]]
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    problems = []
    for text in declared:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name}: not in requirements.lock")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement.name}: locked {pinned}, pyproject.toml wants {requirement.specifier}")
    assert problems == [], "run `bash scripts/lock.sh` (docs/adapters.md): " + "; ".join(problems)
