"""The registry of issued certificates: records, status, and an auditable event log.

`Registry.open(url)` gives the repository API (`repository`); `audit.verify_log` checks the
hash chain, the signed checkpoints, and every row against the state its events commit to
(`state`, `replay`); `lifecycle` says which status changes are allowed.
"""

from .audit import ExtraCheck, LogFacts, LogProblem, LogReport, verify_certificate, verify_log
from .lifecycle import EffectiveStatus
from .repository import Certificate, Checkpoint, Event, Issued, NewCertificate, Registry, Reservation

__all__ = ["Certificate", "ExtraCheck", "LogFacts", "Checkpoint", "EffectiveStatus", "Event", "Issued", "LogProblem", "LogReport", "NewCertificate",
           "Registry", "Reservation", "verify_certificate", "verify_log"]
