"""The dependency rule of the style guide, checked on the source (no import-linter needed)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
IMAGING = {"reportlab", "PIL", "cv2", "pyzbar", "zxingcpp", "qrcode", "segno", "pypdf", "pyhanko", "fitz"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            prefix = "certgen." if node.level and path.is_relative_to(ROOT / "certgen") else ""
            names.add(prefix + node.module if not node.level else _resolve(path, node))
    return names


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module]) if node.module else ".".join(base)


@pytest.mark.parametrize("path", sorted((ROOT / "verify").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_verify_never_imports_issuing_code(path):
    forbidden = [n for n in _imports(path) if n.split(".")[:2] in (["certgen", "render"], ["certgen", "sign"], ["certgen", "batch"])]
    assert forbidden == []


CORE = [ROOT / "certgen" / "seal.py", ROOT / "certgen" / "trust.py", ROOT / "certgen" / "crypto.py",
        *sorted((ROOT / "certgen" / "registry").rglob("*.py"))]


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_trust_core_imports_no_rendering_or_imaging(path):
    assert {n.split(".")[0] for n in _imports(path)} & IMAGING == set()
