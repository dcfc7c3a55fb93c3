"""Importing this warms verify.jpeg_speculative (numba imported, kernels compiled or loaded from
their cache, checked against libjpeg).

The upload checks' forkserver imports it once (verify.isolation.PRELOAD), so every check child
starts with the two-thread JPEG decoder ready; a module rather than a call because a forkserver
preloads modules. `WARM` says whether the decoder is in use. `CERTVERIFY_FAST_JPEG=0` leaves it
off: numba is then never imported (about 125 MB less per web worker process, docs/deploy.md)
and photos decode on one thread as before."""

import os

from .jpeg_speculative import warm

WARM = warm() if os.environ.get("CERTVERIFY_FAST_JPEG", "1").strip() != "0" else False
