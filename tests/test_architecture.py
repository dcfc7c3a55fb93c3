"""The dependency rules of the style guide and issue 13, checked on the source (no import-linter
needed): verify imports no issuing code, signing no rendering code, the trust core no imaging
library, and only the command-line entry points read environment variables.

Imports are followed transitively (module level and inside functions), so a rule cannot be
broken through a helper module that imports the forbidden one.
"""

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
IMAGING = {"reportlab", "PIL", "cv2", "pyzbar", "zxingcpp", "qrcode", "segno", "pypdf", "pyhanko", "fitz"}
#: What verification may never reach: rendering, signing, issuing, and the adapters behind them.
ISSUING = ("certgen.render", "certgen.sign", "certgen.batch", "certgen.issue_worker", "certgen.barcode",
           "certgen.qr_mask",
           "certgen.adapters", "certgen.pdf_signature", "certgen.intake")
#: The signing side: PAdES signing, its pyHanko adapter, what it shares with drawing, the CRL.
SIGNING = ["certgen/sign.py", "certgen/adapters/pyhanko.py", "certgen/adapters/__init__.py", "certgen/pdf_signature.py",
           "certgen/revocation.py"]
RENDERING = ("certgen.render", "certgen.adapters.reportlab", "certgen.barcode", "reportlab")
#: The command-line entry points, the only modules that read the environment (the web
#: service's process entry points are its command line: uvicorn workers start from them).
ENTRY_POINTS = {"certgen/cli.py", "certgen/cli_support.py", "verify/cli.py", "verify/web/server.py",
                "verify/web/config.py"}


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute names), anywhere in the file; for `from a import b`
    both `a` and, when it is a module of ours, `a.b`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node) if node.level else node.module
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names if _file(f"{base}.{a.name}") is not None)
    return names


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    if path.name == "__init__.py":
        package = path.relative_to(ROOT).parts[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module]) if node.module else ".".join(base)


def _file(module: str) -> Path | None:
    """The source file of one of our modules, None for a third-party one."""
    if module.split(".")[0] not in ("certgen", "verify"):
        return None
    stem = ROOT.joinpath(*module.split("."))
    for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def _closure(module: str) -> frozenset[str]:
    """`module` and everything it imports, transitively (packages' __init__ included)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            prefix = ".".join(parts[:i])
            if prefix in seen:
                continue
            seen.add(prefix)
            source = _file(prefix)
            if source is not None:
                todo.extend(_imports(source))
    return frozenset(seen)


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _reaches(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(n for n in _closure(_module(path)) if any(n == p or n.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("path", sorted((ROOT / "verify").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_verify_never_imports_issuing_code(path):
    assert _reaches(path, ISSUING) == []
    assert _reaches(path, ("reportlab",)) == []


@pytest.mark.parametrize("path", SIGNING, ids=str)
def test_signing_imports_no_rendering_code(path):
    assert _reaches(ROOT / path, RENDERING) == []


CORE = [ROOT / "certgen" / "seal.py", ROOT / "certgen" / "trust.py", ROOT / "certgen" / "crypto.py",
        *sorted((ROOT / "certgen" / "registry").rglob("*.py"))]


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_trust_core_imports_no_rendering_or_imaging(path):
    assert {n.split(".")[0] for n in _closure(_module(path))} & IMAGING == set()


def _reads_environment(path: Path) -> list[int]:
    """Lines that read the process environment: os.environ, os.environb, os.getenv, or those
    names imported from os."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "getenvb") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and {a.name for a in node.names} & {"environ", "environb", "getenv", "getenvb"}:
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", sorted([*(ROOT / "certgen").rglob("*.py"), *(ROOT / "verify").rglob("*.py")]),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_command_line_reads_the_environment(path):
    if str(path.relative_to(ROOT)) in ENTRY_POINTS:
        return
    assert _reads_environment(path) == [], "configuration comes from the CLI, as Settings or arguments"


def test_the_rules_can_fail():
    """The checks see what they must: the issuing pipeline reaches rendering and signing, the
    CLI reads the environment."""
    batch = ROOT / "certgen" / "batch.py"
    assert "certgen.render.document" in _reaches(batch, ("certgen.render",))
    assert "certgen.sign" in _reaches(batch, ("certgen.sign",))
    assert "reportlab" in _reaches(ROOT / "certgen" / "render" / "signature_field.py", ("reportlab",))
    assert _reads_environment(ROOT / "certgen" / "cli_support.py")
