"""Document templates as data: `templates/*.yaml` read into frozen dataclasses.

Only this module reads the template folder. Unknown keys are errors (a typo in a template
must not silently drop a line from a certificate); docs/templates.md documents every key.

The default templates and fonts ship inside the package as `certgen/templates` and are found
with importlib.resources, so an installed wheel works from any folder. In the repository that
name is a symbolic link to the top-level `templates/` folder staff edit (docs/templates.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import CertgenError
from ..model import DocumentKind


def bundled_folder() -> Path:
    """The templates shipped with the package (package data `certgen/templates`)."""
    return Path(str(resources.files("certgen") / "templates"))


DEFAULT_FOLDER = bundled_folder()
FORMATS = {"text", "date", "hours", "scheme_type"}


class TemplateError(CertgenError):
    """A template file is missing, not YAML, or has a wrong or unknown key."""


@dataclass(frozen=True)
class Bilingual:
    """Indonesian first, English second."""

    id: str
    en: str


@dataclass(frozen=True)
class FieldSpec:
    """One labelled line of a document."""

    field: str
    label: Bilingual
    #: How many lines the value may wrap onto before it counts as too long.
    lines: int = 1
    format: str = "text"
    #: Skip the line when the value is empty (e.g. the factory of a type 1 certificate).
    optional: bool = False


@dataclass(frozen=True)
class DocumentTemplate:
    title: Bilingual
    intro: Bilingual
    holder: FieldSpec
    fields: tuple[FieldSpec, ...]
    statement: Bilingual
    photo: bool = False
    scheme_types: Mapping[int, Bilingual] = field(default_factory=dict)


@dataclass(frozen=True)
class CardTemplate:
    title: Bilingual
    front: tuple[FieldSpec, ...]
    back_text: Bilingual


@dataclass(frozen=True)
class Letterhead:
    ministry: Bilingual
    name: Bilingual
    address: str
    contact: str
    city: str
    signatory_title: Bilingual
    signatory_name: str
    colours: Mapping[str, str]
    emblem_kind: str
    emblem_initials: str
    emblem_file: Path | None
    fonts: Mapping[str, Path]
    #: Fonts for the CJK letters the role fonts lack, tried in order (certgen/render/fallback.py).
    fallback_fonts: tuple[Path, ...]
    microtext: str
    electronic_note: Bilingual
    scan_caption: Bilingual


@dataclass(frozen=True)
class TemplateSet:
    """Everything the renderers need, loaded once per process."""

    folder: Path
    letterhead: Letterhead
    documents: Mapping[DocumentKind, DocumentTemplate]
    card: CardTemplate
    #: Person certification schemes: code -> name.
    schemes: Mapping[str, str]

    @classmethod
    def load(cls, folder: Path | None = None) -> "TemplateSet":
        folder = Path(folder or DEFAULT_FOLDER)
        return cls(
            folder=folder,
            letterhead=_letterhead(_read(folder, "letterhead.yaml"), folder),
            documents={kind: _document(_read(folder, f"{kind.value}.yaml"), f"{kind.value}.yaml")
                       for kind in DocumentKind if kind is not DocumentKind.LETTER},
            card=_card(_read(folder, "card.yaml")),
            schemes=_schemes(_read(folder, "schemes.yaml")),
        )


def _read(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"{path}: template file is missing") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: expected a mapping at the top level")
    return data


def _keys(data: Mapping[str, Any], where: str, required: set[str], optional: set[str] = frozenset()) -> None:
    unknown = set(data) - required - set(optional)
    if unknown:
        raise TemplateError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    missing = required - set(data)
    if missing:
        raise TemplateError(f"{where}: missing key(s) {', '.join(sorted(missing))}")


def _bi(value: Any, where: str) -> Bilingual:
    if not isinstance(value, dict):
        raise TemplateError(f"{where}: expected {{id: ..., en: ...}}")
    _keys(value, where, {"id", "en"})
    return Bilingual(str(value["id"]), str(value["en"]))


def _field(value: Any, where: str) -> FieldSpec:
    if not isinstance(value, dict):
        raise TemplateError(f"{where}: expected a mapping with field and label")
    _keys(value, where, {"field", "label"}, {"lines", "format", "optional"})
    fmt = value.get("format", "text")
    if fmt not in FORMATS:
        raise TemplateError(f"{where}: format {fmt!r} is not one of {', '.join(sorted(FORMATS))}")
    lines = value.get("lines", 1)
    if not isinstance(lines, int) or not 1 <= lines <= 4:
        raise TemplateError(f"{where}: lines must be 1 to 4")
    return FieldSpec(str(value["field"]), _bi(value["label"], f"{where}.label"), lines, fmt, bool(value.get("optional", False)))


def _document(data: dict[str, Any], name: str) -> DocumentTemplate:
    _keys(data, name, {"title", "intro", "holder", "fields", "statement"}, {"photo", "scheme_types"})
    return DocumentTemplate(
        title=_bi(data["title"], f"{name}: title"), intro=_bi(data["intro"], f"{name}: intro"),
        holder=_field(data["holder"], f"{name}: holder"),
        fields=tuple(_field(f, f"{name}: fields[{i}]") for i, f in enumerate(data["fields"] or [])),
        statement=_bi(data["statement"], f"{name}: statement"), photo=bool(data.get("photo", False)),
        scheme_types={int(k): _bi(v, f"{name}: scheme_types.{k}") for k, v in (data.get("scheme_types") or {}).items()},
    )


def _card(data: dict[str, Any]) -> CardTemplate:
    _keys(data, "card.yaml", {"title", "front", "back_text"})
    return CardTemplate(_bi(data["title"], "card.yaml: title"),
                        tuple(_field(f, f"card.yaml: front[{i}]") for i, f in enumerate(data["front"])),
                        _bi(data["back_text"], "card.yaml: back_text"))


def _letterhead(data: dict[str, Any], folder: Path) -> Letterhead:
    where = "letterhead.yaml"
    _keys(data, where, {"body", "signatory", "colours", "emblem", "fonts", "microtext", "electronic_note", "scan_caption"})
    body, sig, emblem, fonts = data["body"], data["signatory"], data["emblem"], data["fonts"]
    _keys(body, f"{where}: body", {"ministry", "name", "address", "contact", "city"})
    _keys(sig, f"{where}: signatory", {"title", "name"})
    _keys(emblem, f"{where}: emblem", {"kind"}, {"initials", "file"})
    _keys(fonts, f"{where}: fonts", {"regular", "bold", "italic", "title"}, {"fallback"})
    _keys(data["colours"], f"{where}: colours", {"primary", "accent", "guilloche", "text"})
    if emblem["kind"] not in ("vector", "image"):
        raise TemplateError(f"{where}: emblem.kind must be vector or image")
    emblem_file = folder / emblem["file"] if emblem.get("file") else None
    if emblem["kind"] == "image" and (emblem_file is None or not emblem_file.is_file()):
        raise TemplateError(f"{where}: emblem.kind is image but emblem.file {emblem.get('file')!r} is not a file")
    font_paths = {k: folder / v for k, v in fonts.items() if k != "fallback"}
    for key, path in font_paths.items():
        if not path.is_file():
            raise TemplateError(f"{where}: fonts.{key}: {path} is not a file")
    fallback_paths = fonts.get("fallback") or []
    if not isinstance(fallback_paths, list):
        raise TemplateError(f"{where}: fonts.fallback: expected a list of font files")
    fallback_fonts = tuple(folder / str(p) for p in fallback_paths)  # an absolute path stays absolute
    for i, path in enumerate(fallback_fonts):
        if not path.is_file():
            raise TemplateError(f"{where}: fonts.fallback[{i}]: {path} is not a file (Debian: see scripts/bootstrap.sh)")
    return Letterhead(
        ministry=_bi(body["ministry"], f"{where}: body.ministry"), name=_bi(body["name"], f"{where}: body.name"),
        address=str(body["address"]), contact=str(body["contact"]), city=str(body["city"]),
        signatory_title=_bi(sig["title"], f"{where}: signatory.title"), signatory_name=str(sig["name"]),
        colours=dict(data["colours"]), emblem_kind=emblem["kind"], emblem_initials=str(emblem.get("initials", "")),
        emblem_file=emblem_file, fonts=font_paths, fallback_fonts=fallback_fonts, microtext=str(data["microtext"]),
        electronic_note=_bi(data["electronic_note"], f"{where}: electronic_note"),
        scan_caption=_bi(data["scan_caption"], f"{where}: scan_caption"),
    )


def _schemes(data: dict[str, Any]) -> dict[str, str]:
    for code, name in data.items():
        if not isinstance(name, str) or not name.strip():
            raise TemplateError(f"schemes.yaml: scheme {code!r} needs a name")
    return {str(code): name for code, name in data.items()}
