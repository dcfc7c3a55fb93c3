"""Coverage-guided fuzzing of image scanning (atheris): `Verifier.verify_image` on mutated
PNG, JPEG and WebP pictures of a printed seal.

Must hold for every input: a report with a verdict and no exception. Recorded as findings
(fuzz/findings.py): inputs on which a decoder raised (`scan_failed`), and inputs that cost
more than 2 s of CPU (the budget is about 1 s).

    PYTHONPATH=$PWD python fuzz/fuzz_scan.py fuzz/corpus/scan fuzz/seeds/scan -max_len=300000 -timeout=30
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["verify", "certgen"]):
    from verify import scan as _scan  # noqa: F401
    from verify.report import Reason, Verdict
    from verify.service import Verifier

from fuzz.findings import record  # noqa: E402
from fuzz.pki import NOW, seeds_pki  # noqa: E402

TRUST, _ROOT, _ = seeds_pki()
VERIFIER = Verifier(TRUST, None, None, lambda: NOW)
CPU_LIMIT_S = 2.0


def test_one_input(data: bytes) -> None:
    started = time.thread_time()
    reports = VERIFIER.verify_image(data)
    spent = time.thread_time() - started
    assert reports and all(r.verdict in Verdict for r in reports)
    for report in reports:
        for check in report.checks:
            if check.reason is Reason.SCAN_FAILED or check.technical:
                record("scan", f"{check.reason.value}:{(check.technical or '').split(':')[0]}", data)
    if spent > CPU_LIMIT_S:
        record("scan", f"cpu>{CPU_LIMIT_S:g}s", data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
