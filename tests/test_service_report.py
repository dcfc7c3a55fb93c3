"""The yearly report: percentiles, the table, CSV, and the signed PDF with charts."""

from __future__ import annotations

import io

from pypdf import PdfReader

from certgen.cli import main
from certgen.registry import Registry
from certgen.service.report import median, percentile

from .service_helpers import at, closed_application, register


def test_median_and_nearest_rank_percentile():
    assert median([]) is None and percentile([], 90) is None
    assert median([5, 1, 3]) == 3 and median([4, 1, 3, 2]) == 2.5
    values = list(range(1, 11))
    assert percentile(values, 90) == 9 and percentile(values, 100) == 10 and percentile([7], 90) == 7
    assert percentile(list(range(1, 21)), 90) == 18


def test_report_command_table_and_signed_pdf(cli, settings, tmp_path):
    registry = Registry.open(settings.registry_url)
    apps = register(registry)
    closed_application(apps, "PT A", "2026-11-02", "2026-11-20")  # 14 days: on time
    closed_application(apps, "PT B", "2026-11-02", "2026-11-24")  # 16 days: late
    closed_application(apps, "PT C", "2026-11-02", "2026-11-10", kind="person")
    table = cli(main, ["report", "service", "--year", "2026"], now=at("2026-12-01"))
    assert table.exit_code == 0, table.output
    line = next(l for l in table.output.splitlines() if l.startswith("product-type1"))
    assert line.split() == ["product-type1", "14", "2", "2", "0", "15", "16", "50%", "1", "0", "0"]
    pdf = tmp_path / "laporan.pdf"
    out = cli(main, ["report", "service", "--year", "2026", "--format", "csv", "--pdf", str(pdf)])
    assert out.exit_code == 0, out.output
    assert "applications,person,14,1,1,0,6,6,1,0,1,0,0" in out.output
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert len(reader.pages) == 2
    assert "LAPORAN KINERJA LAYANAN TAHUN 2026" in reader.pages[0].extract_text()
    assert reader.pages[1]["/Resources"]["/XObject"]  # the charts, as an image
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    root = x509.load_pem_x509_certificate((settings.keys_dir / "root.cert.pem").read_bytes())
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))])
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_signatures[0], context)
    assert status.intact and status.valid and status.trusted
