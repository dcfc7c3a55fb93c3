"""Importing this warms verify.jpeg_speculative (numba imported, kernels compiled or loaded from
their cache, checked against libjpeg).

The upload checks' forkserver imports it once when the web service runs with the decoder on
(`CERTVERIFY_FAST_JPEG`, verify.web.config; verify.isolation adds it to the preload), so every
check child starts with the two-thread JPEG decoder ready: a module rather than a call because
a forkserver preloads modules. `WARM` says whether the decoder is in use (False: numba missing
or the self-test failed, and photos decode on one thread as before)."""

from .jpeg_speculative import warm

WARM = warm()
