"""Issuing from an application: the batch pipeline's one call site in the service.

The certificates of a granted application are issued by the existing pipeline
(`certgen.batch.run_batch`) from a spreadsheet of their rows; the numbers it wrote to the
manifest are linked to the application, which reports the result and closes it. A rerun after
a crash between the two resumes the batch (nothing is issued twice) and links what it issued.
"""

from __future__ import annotations

import json
from typing import Callable

from ..batch import BatchOptions, BatchSummary, IssueEnvironment, run_batch
from .applications import Application, ApplicationError, Applications


def issue_from_application(apps: Applications, number: str, options: BatchOptions, env: IssueEnvironment,
                           progress: Callable[[int, int], None] | None = None) -> tuple[Application, BatchSummary]:
    """Issue `options.input`'s rows for application `number` and close it; refuses before a
    granted decision, or rows of another kind of certificate."""
    current = apps.get(number, env.now())
    apps.check_can_issue(current.number)
    expected = apps.rules.kind(current.kind).certificate
    if options.kind.value != expected:
        raise ApplicationError(f"{current.number} is a {current.kind} application: it issues {expected} certificates, "
                               f"not {options.kind.value}")
    summary = run_batch(options, env, progress)
    if summary.problems:
        raise ApplicationError(f"{current.number}: the batch reported problems; the application stays open:\n  "
                               + "\n  ".join(summary.problems))
    manifest = json.loads((options.output / "manifest.json").read_text(encoding="utf-8"))
    issued = [entry["number"] for entry in manifest if entry.get("status") == "active"]
    app = apps.link_certificates(current.number, issued, now=env.now(), actor=env.actor)
    return app, summary
