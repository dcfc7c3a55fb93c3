"""The QR code's path operators (certgen.barcode._runs) are built from number tables by numpy:
they must be exactly the text of one `x y w 1 re` per run that the plain formatting gives."""

import numpy as np
import pytest

from certgen.barcode import _runs, qr_matrix, qr_operators


def _formatted(dark: np.ndarray) -> str:
    """The reference: every run found by a plain loop, formatted with %."""
    size = dark.shape[0]
    lines = []
    for r in range(size):
        c = 0
        while c < size:
            if dark[r, c]:
                start = c
                while c < size and dark[r, c]:
                    c += 1
                lines.append("%d %d %d 1 re" % (start, size - 1 - r, c - start))
            else:
                c += 1
    return "\n".join(lines)


@pytest.mark.parametrize("size", [21, 25, 65, 101, 177])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_runs_are_the_formatted_text_of_every_run(size, density):
    rng = np.random.default_rng(size * 100 + int(density * 100))
    dark = rng.random((size, size)) < density
    assert _runs(dark) == _formatted(dark)


def test_a_real_code_gives_the_same_operators():
    matrix = qr_matrix("https://verifikasi.example.id/v/" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 10)
    assert matrix.runs == _formatted(matrix.dark)
    assert qr_operators(matrix, 1.0, 2.0, 0.5).count(" re") == matrix.runs.count(" re") > 100
