"""Coverage-guided fuzzing of PDF verification (atheris): `Verifier.verify_pdf` on mutated
issued certificates and the hostile cases of tests/hostile_pdfs.py.

Must hold for every input: a report with a verdict, within the time bound, no exception.
Inputs whose report says the validator itself failed (`pdf_not_evaluated`: an exception no
specific check anticipated) are recorded by exception type (fuzz/findings.py).

    PYTHONPATH=$PWD python fuzz/fuzz_pdf.py fuzz/corpus/pdf fuzz/seeds/pdf -max_len=200000 -timeout=30
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["verify", "certgen", "pyhanko"]):
    import pyhanko.pdf_utils.reader  # noqa: F401
    import pyhanko.sign.validation  # noqa: F401

    from verify import pdf as _pdf  # noqa: F401
    from verify.report import Reason, Verdict
    from verify.service import Verifier

from fuzz.findings import record  # noqa: E402
from fuzz.pki import NOW, seeds_pki  # noqa: E402

TRUST, ROOT, _ = seeds_pki()
VERIFIER = Verifier(TRUST, None, ROOT, lambda: NOW)
_BOUNDARY = (Reason.PDF_NOT_EVALUATED, Reason.PDF_TIMED_OUT)


def test_one_input(data: bytes) -> None:
    report = VERIFIER.verify_pdf(data)
    assert report.verdict in Verdict
    for check in report.checks:
        if check.reason in _BOUNDARY:
            record("pdf", f"{check.reason.value}:{(check.technical or '').split(':')[0]}", data)
        elif check.technical:
            record("pdf", f"{check.reason.value}:{check.technical.split(':')[0]}", data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
