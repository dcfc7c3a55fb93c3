"""certgen: issuing side of the certification body's digital certificates.

Sub-modules each have one job: `numbers` (certificate numbers), `keys` (key files),
`trust` (DSCs and the signed trust list), `seal` (the barcode payload), `registry`
(the record of everything issued). The CLI in `certgen.cli` is a thin layer over them.
"""

__version__ = "0.1.0"
