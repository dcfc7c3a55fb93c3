"""Canaries of the adapters (certgen/adapters): the fast paths are taken, give the stock
output, cover every module they must, and an untested library version gets the stock path.

The stock paths run in subprocesses: this process has the fast paths installed for the whole
session (tests/conftest.py), as `certgen issue` has.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from certgen.adapters import ACTIVE
from certgen.adapters import pyhanko as pyhanko_adapter
from certgen.adapters import reportlab as reportlab_adapter
from certgen.barcode import qr_matrix
from certgen.render.card import CardData, render_card
from certgen.render.document import render_certificate
from tests.conftest import PASSPHRASE
from tests.documents import person, templates_and_fonts

ROOT = Path(__file__).parent.parent
SEAL = "https://verifikasi.example.id/v/" + "A" * 300
NAME = "Ñuñez Nguyễn Thị Ångström"  # non-ASCII, no CJK: the stock path prints it too
ISSUED = date(2026, 11, 24)

# renders the canary documents and prints them as JSON (hex), in a process of its own
RENDER = textwrap.dedent(f"""
    import json, sys
    from datetime import date
    {{setup}}
    from certgen.barcode import qr_matrix
    from certgen.render.card import CardData, render_card
    from certgen.render.document import render_certificate
    from tests.documents import person
    from certgen.render.fonts import register
    from certgen.render.templates import TemplateSet
    templates = TemplateSet.load()
    fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
    matrix = qr_matrix({SEAL!r})
    record = person({NAME!r})
    pdf = render_certificate(templates, fonts, record, "SK-2026-000123-6", matrix, date(2026, 11, 24), record.photo)
    card = render_card(templates, fonts, CardData("SK-2026-000123-6", record, matrix, record.photo, date(2026, 11, 24)))
    print(json.dumps({{"pdf": pdf.hex(), "card": card.hex()}}))
""")
STOCK = ("from certgen.adapters import reportlab, pyhanko\n"
         "reportlab.install(tested={}); pyhanko.install(tested={})")


def _run(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, check=False)


def _render_here() -> dict[str, bytes]:
    """The canary documents drawn by ReportLab with the adapter's patches (the page writer,
    certgen/render/page_writer.py, is switched off here: tests/test_page_writer.py compares it)."""
    from certgen.render import page_writer

    page_writer.ENABLED, enabled = False, page_writer.ENABLED
    try:
        return _render_here_with_reportlab()
    finally:
        page_writer.ENABLED = enabled


def _render_here_with_reportlab() -> dict[str, bytes]:
    templates, fonts = templates_and_fonts()
    matrix = qr_matrix(SEAL)
    record = person(NAME)
    return {"pdf": render_certificate(templates, fonts, record, "SK-2026-000123-6", matrix, ISSUED, record.photo),
            "card": render_card(templates, fonts, CardData("SK-2026-000123-6", record, matrix, record.photo, ISSUED))}


def _plain(value, reader: PdfReader):
    """A PDF object as plain Python: streams decoded, their encoding entries dropped."""
    if isinstance(value, IndirectObject):
        return ("ref", value.idnum)
    if isinstance(value, StreamObject):
        entries = {k: _plain(v, reader) for k, v in value.items() if k not in ("/Filter", "/Length", "/DecodeParms")}
        return ("stream", entries, value.get_data())
    if isinstance(value, DictionaryObject):
        return {k: _plain(v, reader) for k, v in value.items()}
    if isinstance(value, ArrayObject):
        return [_plain(v, reader) for v in value]
    if isinstance(value, float) or type(value).__name__ == "FloatObject":
        return round(float(value), 4)
    return value


def _objects(pdf: bytes) -> dict[int, object]:
    reader = PdfReader(io.BytesIO(pdf))
    size = int(reader.trailer["/Size"])
    return {i: _plain(reader.get_object(i), reader) for i in range(1, size)}


def test_the_fast_path_gives_what_stock_reportlab_gives():
    """Same documents through stock ReportLab (a fresh process) and through the adapter: the
    bytes differ (the patches are active: level-1 Flate, no ASCII85) and every object, streams
    decoded, is the same."""
    assert ACTIVE.reportlab
    stock_run = _run(RENDER.replace("{setup}", STOCK))
    assert stock_run.returncode == 0, stock_run.stderr
    stock = {k: bytes.fromhex(v) for k, v in json.loads(stock_run.stdout).items()}
    fast = _render_here()
    for kind in ("pdf", "card"):
        assert fast[kind] != stock[kind], kind
        assert b"ASCII85Decode" in stock[kind] and b"ASCII85Decode" not in fast[kind]
        assert _objects(fast[kind]) == _objects(stock[kind]), kind


def test_every_patch_is_called_when_a_document_is_drawn():
    """A patch that ReportLab no longer calls (a renamed method, a new by-name import) would
    leave the fast path silently off: the profiler sees each of ours run while drawing."""
    adapter_file = reportlab_adapter.__file__
    called: set[str] = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == adapter_file:
            called.add(frame.f_code.co_name)

    _render_here()  # warm: fonts registered, subsets cached
    sys.setprofile(profile)
    try:
        _render_here()
    finally:
        sys.setprofile(None)
    assert {"_fast_pdfdoc_encode", "_fast_array_format", "encode", "make_subset", "split_string"} <= called


def test_the_text_encoding_is_replaced_in_every_module_that_imported_it():
    """acroform and pdfpattern do `from pdfdoc import pdfdocEnc`; loaded before install, they
    must still get the fast one (and none may keep the stock one)."""
    script = textwrap.dedent("""
        import reportlab.pdfbase.acroform as acroform, reportlab.pdfbase.pdfpattern as pdfpattern
        from certgen.adapters import reportlab as adapter
        assert adapter.modules_with_stock("pdfdocEnc")  # before: they hold ReportLab's own
        adapter.install()
        assert adapter.modules_with_stock("pdfdocEnc") == [], adapter.modules_with_stock("pdfdocEnc")
        assert acroform.pdfdocEnc is pdfpattern.pdfdocEnc is adapter._fast_pdfdoc_encode
        print("ok")
    """)
    run = _run(script)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert reportlab_adapter.modules_with_stock("pdfdocEnc") == []


def test_importing_patches_nothing():
    """Fonts registered without `install`: ReportLab stays stock, while the local reach-ins
    (signature fields drawn in place, CJK fallback fonts) work with the tested versions."""
    script = textwrap.dedent("""
        from reportlab.pdfbase import pdfdoc
        stock = pdfdoc.pdfdocEnc, pdfdoc.PDFArray.format, pdfdoc.PDFZCompress
        import certgen.sign, certgen.render.document, certgen.adapters.reportlab
        from certgen.render.fonts import register
        from certgen.render.templates import TemplateSet
        t = TemplateSet.load(); register(t.letterhead.fonts, t.letterhead.fallback_fonts)
        assert (pdfdoc.pdfdocEnc, pdfdoc.PDFArray.format, pdfdoc.PDFZCompress) == stock
        from certgen.adapters import ACTIVE
        assert not ACTIVE.reportlab and not ACTIVE.pyhanko
        # the local reach-ins need no install, only tested versions: fields in place, CJK names
        from certgen.render.fonts import missing_glyphs
        assert ACTIVE.signs_in_place and missing_glyphs("王小明", "cg-NotoSans-Regular") == []
        print("ok")
    """)
    run = _run(script)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_an_untested_version_gets_the_stock_path_and_one_warning():
    script = textwrap.dedent("""
        import logging
        from certgen.adapters import ACTIVE, reportlab, pyhanko
        from reportlab.pdfbase import pdfdoc
        stock = pdfdoc.pdfdocEnc
        for _ in range(3):
            assert reportlab.install(tested={"reportlab": frozenset({"0.0.1"})}) is False
            assert pyhanko.install(tested={"pyHanko": frozenset({"0.0.1"})}) is False
        assert pdfdoc.pdfdocEnc is stock and not ACTIVE.reportlab and not ACTIVE.pyhanko
        from certgen.render.fonts import register, missing_glyphs
        from certgen.render.templates import TemplateSet
        t = TemplateSet.load(); fonts = register(t.letterhead.fonts, t.letterhead.fallback_fonts)
        print(missing_glyphs("Wang 王小明", fonts.regular))
    """)
    run = _run(script)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(warnings) == 2, run.stderr  # one per adapter, however often install is called
    assert "reportlab 5.1.0 is not a version certgen's ReportLab adapter was tested with" in warnings[0]
    assert "pyHanko" in warnings[1] and "PdfSigner" in warnings[1]
    # without the adapter no fallback font draws CJK letters: the intake names them instead
    assert run.stdout.strip() == str(sorted("王小明"))


def test_stock_pyhanko_signs_by_incremental_update(tmp_path):
    """pyHanko untested (ReportLab tested): no template, no signing in place; `sign` gives a
    valid, trusted signature and `complete` refuses."""
    script = textwrap.dedent(f"""
        from datetime import date, datetime, timedelta, timezone
        from pathlib import Path
        from certgen.adapters import reportlab, pyhanko
        reportlab.install(); pyhanko.install(tested={{}})
        from certgen.barcode import qr_matrix
        from certgen.keys import KeyStore
        from certgen.render.document import SIGNATURE_BOX, render_certificate
        from certgen.sign import PdfSealer
        from tests.documents import person
        from tests.signatures import pyhanko_status
        store = KeyStore(Path({str(tmp_path)!r}))
        store.init({PASSPHRASE!r}, now=datetime.now(timezone.utc) - timedelta(days=1))
        sealer = PdfSealer(store.current_signer({PASSPHRASE!r}), [store.root_certificate()])
        assert not sealer.signs_in_place and sealer.level == "PAdES-B-B"
        from certgen.render.fonts import register
        from certgen.render.templates import TemplateSet
        t = TemplateSet.load()
        f = register(t.letterhead.fonts, t.letterhead.fallback_fonts)
        from certgen.adapters import ACTIVE
        assert ACTIVE.reportlab and not ACTIVE.pyhanko
        pdf = render_certificate(t, f, person(), "SK-2026-000123-6", qr_matrix("https://x.example.id/v/AB"), date(2026, 11, 24))
        signed = sealer.sign(pdf, SIGNATURE_BOX, reason="r", location="Jakarta", seal="S")
        assert signed.count(b"%%EOF") == 2  # an incremental update
        status = pyhanko_status(signed, store.root_certificate())
        assert status.bottom_line, status.summary()
        try:
            sealer.complete(pdf)
        except ValueError as exc:
            print("refused:", exc)
    """)
    run = _run(script)
    assert run.returncode == 0, run.stderr
    assert "refused: this signer does not sign in place" in run.stdout


def test_template_container_is_pyhankos_own_but_the_signature(keystore):
    """The per-document container has exactly the signed attributes, certificates and
    algorithms pyHanko writes for the same digest; only the signature value differs."""
    from asn1crypto import cms
    from asn1crypto import keys as asn1_keys
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from tests.signatures import asn1

    assert ACTIVE.pyhanko
    signer = keystore.current_signer(PASSPHRASE)
    key = asn1_keys.PrivateKeyInfo.load(signer.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    stock_signer = signers.SimpleSigner(signing_cert=asn1(signer.certificate), signing_key=key,
                                        cert_registry=SimpleCertificateStore.from_certs([asn1(keystore.root_certificate())]))
    template = pyhanko_adapter.CmsTemplate(stock_signer, signer.private_key)
    digest = bytes(range(32))
    ours = cms.ContentInfo.load(template.sign_digest(digest))["content"]
    theirs = template.stock(digest)["content"]
    for key_name in ("version", "digest_algorithms", "encap_content_info", "certificates"):
        assert ours[key_name].dump() == theirs[key_name].dump(), key_name
    mine, pyhankos = ours["signer_infos"][0], theirs["signer_infos"][0]
    for key_name in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm"):
        assert mine[key_name].dump() == pyhankos[key_name].dump(), key_name
    assert digest in mine["signed_attrs"].dump()
    with pytest.raises(ValueError, match="32 bytes"):
        template.sign_digest(b"short")


def test_the_cli_switch_issues_on_the_stock_path(tmp_path, fresh_keystore):
    """CERTGEN_ADAPTERS=off: `certgen issue` says so once and signs by incremental update."""
    from tests.test_batch import person_rows

    data = person_rows(tmp_path / "in", 3)
    env = {"CERTGEN_DATA": str(tmp_path / "data"), "CERTGEN_KEYS": str(fresh_keystore.folder),
           "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(), "CERTGEN_ADAPTERS": "off"}
    run = subprocess.run([sys.executable, "-m", "certgen.cli", "issue", "person", str(data), "-o", str(tmp_path / "out"),
                          "--workers", "1", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["issued"] == 3
    assert run.stderr.count("fast paths switched off (CERTGEN_ADAPTERS=off)") == 1
    from tests.signatures import pyhanko_status
    for pdf in sorted((tmp_path / "out" / "certificates").glob("*.pdf")):
        signed = pdf.read_bytes()
        assert signed.count(b"%%EOF") == 2
        assert pyhanko_status(signed, fresh_keystore.root_certificate()).bottom_line
