"""The hostile-PDF suite: attacks from the PDF-signature literature, rebuilt on documents the
real pipeline issued (tests/hostile_pdfs.py), each with its specific reason, offline and with
the registry. Also the boundary itself: what pyHanko raises, a run past the time bound, and
files too large to be certificates."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from certgen.barcode import qr_matrix
from certgen.render.document import render_certificate
from tests import hostile_pdfs as hostile
from tests.conftest import NOW
from tests.documents import person, templates_and_fonts
from tests.test_verify import issued, verifier  # noqa: F401 - the module fixture
from verify import pdf as pdf_module
from verify.pdf import check_pdf
from verify.pdf_structure import PdfLimits
from verify.formats import report_json
from verify.report import Outcome, Reason, Verdict

MODIFIED, MALFORMED = Reason.PDF_MODIFIED, Reason.PDF_SIGNATURE_MALFORMED

#: attack -> (reason, words the detail must contain)
EXPECTED = {
    # shadow attacks: hide, replace, hide-and-replace
    "shadow_hide_overlay_annotation": (MODIFIED, "(other)"),
    "shadow_replace_content_stream": (MODIFIED, "(other)"),
    "shadow_append_content_stream": (MODIFIED, "(other)"),
    "shadow_replace_font": (MODIFIED, "(other)"),
    "shadow_replace_xobject": (MODIFIED, "(other)"),
    "shadow_swap_page": (MODIFIED, "(other)"),
    "shadow_replace_catalog_seal": (MODIFIED, "(other)"),
    "shadow_info_title": (MODIFIED, "document information (title, subject) was rewritten"),
    "shadow_xref_only": (MODIFIED, "(other)"),
    # incremental saving attacks
    "isa_no_xref_no_trailer": (MODIFIED, "bytes follow the end of the file"),
    "isa_trailer_without_xref": (MODIFIED, "belong to no revision"),
    "isa_xref_to_new_content": (MODIFIED, "(other)"),
    "isa_byte_range_covers_update": (Reason.PDF_SIGNATURE_INVALID, "signed content was changed"),
    # universal signature forgery
    "usf_contents_missing": (MALFORMED, "signature dictionary is malformed"),
    "usf_contents_null": (MALFORMED, "signature dictionary is malformed"),
    "usf_contents_empty": (MALFORMED, "signature dictionary is malformed"),
    "usf_contents_malformed": (MALFORMED, "signature dictionary is malformed"),
    "usf_contents_wrong_type": (MALFORMED, "signature dictionary is malformed"),
    "usf_contents_zeroed_in_place": (MALFORMED, "signature dictionary is malformed"),
    "usf_byte_range_missing": (MALFORMED, "signature dictionary is malformed"),
    "usf_byte_range_null": (MALFORMED, "has no /ByteRange"),
    "usf_byte_range_empty": (MALFORMED, "/ByteRange is not four integers"),
    "usf_byte_range_malformed": (MALFORMED, "/ByteRange is not four integers"),
    "usf_byte_range_wrong_types": (MALFORMED, "/ByteRange is not four integers"),
    "usf_byte_range_out_of_bounds": (MALFORMED, "beyond the end of the file"),
    "usf_byte_range_overlapping": (MALFORMED, "parts overlap"),
    "usf_byte_range_negative": (MALFORMED, "negative number"),
    # signature wrapping
    "swa_moved_tail": (Reason.PDF_UNREADABLE, "cannot be read"),
    "swa_range_points_at_copy": (MODIFIED, "(other)"),
    # added fields and signatures
    "empty_signature_field": (MODIFIED, "a form field was added after signing"),
    "second_signature": (MODIFIED, "(form_filling)"),
}


def test_every_attack_has_an_expectation():
    assert set(EXPECTED) == set(hostile.UPDATE_ATTACKS)


@pytest.fixture(scope="module")
def attacks(issued):  # noqa: F811
    return {name: build(issued["pdfs"][0]) for name, build in hostile.UPDATE_ATTACKS.items()}


@pytest.mark.parametrize("with_registry", [False, True], ids=["offline", "registry"])
@pytest.mark.parametrize("attack", list(EXPECTED))
def test_attack_is_invalid_with_its_reason(issued, attacks, attack, with_registry):  # noqa: F811
    reason, words = EXPECTED[attack]
    report = verifier(issued, registry=with_registry).verify_pdf(attacks[attack], f"{attack}.pdf")
    first = report.checks[0]
    assert report.verdict is Verdict.INVALID, (attack, report.summary)
    assert (first.name, first.outcome, first.reason) == ("pdf_signature", Outcome.FAILED, reason), first
    assert words in first.detail, first.detail
    assert all("whole document, unchanged" not in c.detail for c in report.checks)
    assert len(report.checks) == 1  # nothing after a failed signature check: no seal, no registry verdict


def test_empty_signature_field_offline_is_never_called_unchanged(issued, attacks):  # noqa: F811
    """The issue's case: caught offline, not only by the registry's file digest."""
    report = verifier(issued, registry=False).verify_pdf(attacks["empty_signature_field"])
    data = report_json(report)
    assert data["verdict"] == "INVALID" and data["checks"][0]["reason"] == "pdf_modified_after_signing"
    assert "unchanged" not in json.dumps(data)


@pytest.fixture(scope="module")
def unsigned(issued):  # noqa: F811
    """The first certificate's document as rendered before signing, its genuine seal in the catalog."""
    cert = issued["registry"].get(issued["numbers"][0])
    templates, fonts = templates_and_fonts()
    pdf = render_certificate(templates, fonts, person(), cert.number, qr_matrix(cert.seal), date(2026, 11, 24))
    return pdf, cert.seal


@pytest.mark.parametrize("with_registry", [False, True], ids=["offline", "registry"])
@pytest.mark.parametrize("kind", ["rsa", "ed25519", "p384"])
def test_resigned_look_alike_is_untrusted(issued, unsigned, kind, with_registry):  # noqa: F811
    """The root's name, key identifier and serial copied onto a chain with another key type."""
    pdf, seal = unsigned
    forged = hostile.resigned_look_alike(kind, pdf, issued["keys"].root_certificate(), issued["signer"].certificate, seal)
    report = verifier(issued, registry=with_registry).verify_pdf(forged)
    assert report.verdict is Verdict.INVALID
    assert [(c.outcome, c.reason) for c in report.checks] == [(Outcome.FAILED, Reason.PDF_SIGNER_UNTRUSTED)]


def test_what_pyhanko_raises_becomes_indeterminate_with_its_type(issued, unsigned, monkeypatch):  # noqa: F811
    """Without the issuer pre-check, pyhanko-certvalidator asserts on the Ed25519 look-alike:
    the boundary turns that into INDETERMINATE, the exception only in the JSON."""
    pdf, seal = unsigned
    forged = hostile.resigned_look_alike("ed25519", pdf, issued["keys"].root_certificate(), issued["signer"].certificate, seal)
    monkeypatch.setattr(pdf_module, "_issued_by", lambda signer, root: True)
    report = verifier(issued, registry=False).verify_pdf(forged)
    check = report.checks[0]
    assert report.verdict is Verdict.INDETERMINATE
    assert (check.outcome, check.reason) == (Outcome.INDETERMINATE, Reason.PDF_NOT_EVALUATED)
    assert check.technical.startswith("AssertionError") and "AssertionError" not in check.detail
    assert report_json(report)["checks"][0]["technical"] == check.technical


def test_damage_found_late_by_pyhanko_is_unreadable(issued):  # noqa: F811
    """Fuzzing finding (fuzz_pdf, see docs/benchmarks.md): a stream whose /Length overruns
    its `endstream` in a later revision made pyHanko raise PdfReadError inside validation."""
    pdf = issued["pdfs"][0]
    broken = hostile.isa_xref_to_new_content(pdf)
    at = broken.rindex(b"endstream")
    broken = broken[:at] + b"endstrXam" + broken[at + 9:]
    report = verifier(issued, registry=False).verify_pdf(broken)
    check = report.checks[0]
    assert report.verdict is Verdict.INVALID and check.reason is Reason.PDF_UNREADABLE, check
    assert check.technical and check.technical.startswith("PdfReadError")


def _nested_catalog_update(pdf: bytes, depth: int) -> bytes:
    """An update rewriting the catalog with an array nested `depth` deep inside it."""
    import re
    root = int(re.findall(rb"/Root (\d+) 0 R", pdf)[-1])
    size = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    match = list(re.finditer(rb"(?m)^%d 0 obj" % root, pdf))[-1]
    catalog = pdf[match.end():pdf.index(b"endobj", match.end())].strip()
    assert catalog.endswith(b">>")
    body = catalog[:-2] + b" /Deep " + b"[" * depth + b"]" * depth + b" >>"
    start = len(pdf)
    addition = b"\n%d 0 obj\n%s\nendobj\n" % (root, body)
    prev = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    xref = b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (root, start + 1)
    trailer = b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size, root, prev, start + len(addition))
    return pdf + addition + xref + trailer


def test_deeply_nested_object_is_a_verdict(issued):  # noqa: F811
    """A catalog update holding an array nested 100,000 deep: pyHanko's recursive parser hits
    the recursion limit; the file is damaged (INVALID), not a traceback."""
    report = verifier(issued, registry=False).verify_pdf(_nested_catalog_update(issued["pdfs"][0], 100_000))
    check = report.checks[0]
    assert report.verdict is Verdict.INVALID, check
    assert check.reason is Reason.PDF_UNREADABLE and "RecursionError" in (check.technical or ""), check


def test_time_bound_gives_timed_out(issued):  # noqa: F811
    result = check_pdf(issued["pdfs"][0], trust=issued["keys"].trust_list(), root=issued["keys"].root_certificate(),
                       now=NOW, limits=PdfLimits(seconds=0.000_001))
    check = result.checks[0]
    assert (check.outcome, check.reason) == (Outcome.INDETERMINATE, Reason.PDF_TIMED_OUT)
    assert "took longer than" in check.detail and result.seal is None


@pytest.mark.parametrize("body, words", [
    (b"".join(b"%d 0 obj\nnull\nendobj\n" % i for i in range(1, 6002)), "has 6001 objects"),
    (b"1 0 obj\n<< /Size 100000 >>\nendobj\n", "has 100000 objects"),
    (b"1 0 obj\n<< /Length 999999999 >>\nstream\nx\nendstream\nendobj\n", "declares a stream of 999999999 bytes"),
])
def test_too_large_is_refused_before_parsing(issued, body, words):  # noqa: F811
    report = verifier(issued, registry=False).verify_pdf(b"%PDF-1.7\n" + body + b"%%EOF\n")
    assert report.verdict is Verdict.INVALID and report.checks[0].reason is Reason.PDF_TOO_LARGE
    assert words in report.checks[0].detail


def test_harmless_update_is_valid_offline_but_not_the_registered_file(issued):  # noqa: F811
    """An update that rewrites the catalog unchanged: the signature holds (and says the file
    has later updates), and the registry's digest names it another file."""
    writer = IncrementalPdfFileWriter(io.BytesIO(issued["pdfs"][1]))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    offline = verifier(issued, registry=False).verify_pdf(out.getvalue())
    assert offline.checks[0].reason is Reason.PDF_SIGNATURE_VALID
    assert "later updates change nothing" in offline.checks[0].detail
    online = verifier(issued).verify_pdf(out.getvalue())
    assert online.verdict is Verdict.INVALID and online.checks[-1].reason is Reason.PDF_NOT_REGISTERED
    genuine = verifier(issued).verify_pdf(issued["pdfs"][1])
    assert genuine.verdict is Verdict.VALID and "whole document, unchanged" in genuine.checks[0].detail
