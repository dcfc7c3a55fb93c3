"""`certgen discard`: a pending successor whose predecessor was withdrawn meanwhile (issue 12
§1). It stayed pending for ever, no command ended it, and its reruns said only that the old
certificate was withdrawn."""

from __future__ import annotations

import json

import pytest

from certgen.cli import main as certgen
from certgen.errors import SuccessorDiscarded
from certgen.model import DocumentKind, EventType, Status
from certgen.registry import Registry
from tests.conftest import NOW, PASSPHRASE
from tests.test_replacement import _as_row, _log_intact, _successor_sheet, _verify, products  # noqa: F401


def _stranded(settings, products, fresh_keystore, index=2):
    """A correction planned, its predecessor withdrawn before the issue: the successor pending."""
    from certgen.batch import IssueEnvironment, issue_batch, prepare_batch
    from certgen.batch_plan import BatchOptions

    old = products["numbers"][index]
    registry = Registry.open(settings.registry_url)
    sheet = _successor_sheet(settings.data_dir / "one.csv", [_as_row(registry.get(old), brand="Sinar Baru")])
    options = BatchOptions(DocumentKind.PRODUCT, sheet, settings.data_dir / "one", workers=1, replaces_column="old_number")
    plan = prepare_batch(options, registry, now=NOW)
    registry.withdraw(old, reason="fraud found meanwhile", now=NOW, actor="tester")
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    summary = issue_batch(plan, signer, IssueEnvironment(registry=registry, signer=signer, now=lambda: NOW))
    assert summary.issued == 0
    (successor,) = [c for c in registry.iter_certificates() if c.replaces == old]
    assert successor.status is Status.PENDING
    assert any(f"{successor.number} can never be issued: discard it (certgen discard {successor.number} --reason TEXT)"
               in p for p in summary.problems), summary.problems
    return registry, old, successor.number, sheet, options


def test_a_stranded_successor_is_refused_then_discarded(cli, settings, products, fresh_keystore):
    registry, old, successor, sheet, _ = _stranded(settings, products, fresh_keystore)
    hint = f"discard it (certgen discard {successor} --reason TEXT)"
    # every way of issuing it again is refused, naming the successor and the command
    rerun = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "old_number", "-o",
                          str(settings.data_dir / "one")])
    assert rerun.exit_code == 1 and f"{old} is withdrawn (fraud found meanwhile) since its successor {successor} was " \
                                     f"started: {successor} can never be issued; {hint}" in rerun.output, rerun.output
    again = cli(certgen, ["correct", old, "--set", "brand=Sinar Baru"])
    assert again.exit_code == 1 and hint in again.output
    # the number of the stranded successor is not a certificate
    code, text = _verify(fresh_keystore, settings, "number", successor)
    assert code == 1 and text.startswith("INVALID")

    missing = cli(certgen, ["discard", successor])
    assert missing.exit_code == 2 and "--reason" in missing.output
    done = cli(certgen, ["discard", successor, "--reason", "predecessor withdrawn"])
    assert done.exit_code == 0, done.output
    cert = registry.get(successor)
    assert cert.status is Status.WITHDRAWN and cert.issued_at is None and cert.batch_key is None
    assert cert.status_reason == f"discarded before issue (successor of {old}): predecessor withdrawn"
    (event,) = registry.events(successor)
    assert event.type is EventType.DISCARD and event.data["from"] == "pending" and event.data["to"] == "withdrawn"
    code, text = _verify(fresh_keystore, settings, "number", successor, "--json")
    report = json.loads(text)
    assert code == 1 and report["verdict"] == "WITHDRAWN" and "discarded before issue" in report["summary"]
    _log_intact(cli)
    # discarded once is final; an issued or ordinary certificate is not discarded
    twice = cli(certgen, ["discard", successor, "--reason", "again"])
    assert twice.exit_code == 1 and f"{successor} is withdrawn, not a pending successor" in twice.output
    issued = cli(certgen, ["discard", products["numbers"][0], "--reason", "x"])
    assert issued.exit_code == 1 and f"{products['numbers'][0]} is issued, not a pending successor" in issued.output
    # the rerun now says the old certificate is withdrawn, and issues nothing
    rerun = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "old_number", "-o",
                          str(settings.data_dir / "one")])
    assert rerun.exit_code == 1 and f"{old} is withdrawn (fraud found meanwhile); a withdrawn certificate cannot be" \
                                     in rerun.output
    assert registry.get(successor).status is Status.WITHDRAWN
    _log_intact(cli)


def test_discard_while_the_batch_draws_is_never_issued(cli, settings, products, fresh_keystore):
    """A discard between a batch's plan and its issue transaction: the batch issues nothing and
    says the successor was discarded (the row is withdrawn, not pending)."""
    from certgen.batch import IssueEnvironment, issue_batch, prepare_batch
    from certgen.batch_plan import BatchOptions

    old = products["numbers"][1]
    registry = Registry.open(settings.registry_url)
    sheet = _successor_sheet(settings.data_dir / "two.csv", [_as_row(registry.get(old), brand="Terang")])
    options = BatchOptions(DocumentKind.PRODUCT, sheet, settings.data_dir / "two", workers=1, replaces_column="old_number")
    plan = prepare_batch(options, registry, now=NOW)
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    env = IssueEnvironment(registry=registry, signer=signer, now=lambda: NOW)
    from certgen import batch as batch_mod
    from certgen.registry.discard import discard_successor

    real = batch_mod._mark

    def discard_first(env_, signer_, issued, now, summary):
        for item in issued:
            discard_successor(registry, item.number, reason="wrong brand", now=NOW, actor="tester")
        return real(env_, signer_, issued, now, summary)

    batch_mod._mark = discard_first
    try:
        summary = issue_batch(plan, signer, env)
    finally:
        batch_mod._mark = real
    assert summary.issued == 0
    assert any("was not issued: it was discarded (discarded before issue" in p and "(its files are not valid)" in p
               for p in summary.problems), summary.problems
    assert registry.get(old).status is Status.ACTIVE and registry.get(old).replaced_by is None
    with pytest.raises(SuccessorDiscarded):
        registry.mark_issued([c for c in registry.iter_certificates() if c.replaces == old][0].number,
                             pdf_sha256="0" * 64, dsc_kid="k", now=NOW, actor="t")
    # the key is released: a new correction of the active certificate goes through
    result = cli(certgen, ["correct", old, "--set", "brand=Terang Benderang"])
    assert result.exit_code == 0 and "1 issued" in result.output, result.output
    assert registry.get(old).status is Status.REPLACED
    _log_intact(cli)


def test_the_replayer_names_an_issue_after_a_discard_and_a_forged_discard():
    from datetime import datetime, timezone

    from certgen.registry.replay import RawEvent, replay_certificate
    from certgen.registry.state import state_digest

    number = "P1-2026-000009-X"
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)
    reason = "discarded before issue (successor of P1-2026-000001-K): x"
    state = {"number": number, "series": "P1", "kind": "product", "holder": "PT", "scheme": "SNI", "granted": "2026-11-24",
             "expires": "2030-11-23", "record_sha256": "r" * 64, "status": "withdrawn", "status_reason": reason,
             "status_changed_at": "2026-11-25T00:00:00.000000Z", "replaced_by": None, "dsc_kid": None,
             "pdf_sha256": None, "card_sha256": None, "seal_sha256": None, "issued_at": None, "batch_key": None}

    def event(seq, type_, data, why=reason):
        return RawEvent(seq, at, type_, number, "t", why, data, "0" * 64, "1" * 64)

    discard = event(1, "discard", {"from": "pending", "to": "withdrawn", "state": state, "state_sha256": state_digest(state)})
    assert replay_certificate(number, [discard]).problems == []
    issued = dict(state, status="active", status_reason=None, issued_at="2026-11-25T00:00:00.000000Z")
    after = replay_certificate(number, [discard, event(2, "issue", {"state": issued, "state_sha256": state_digest(issued)}, None)])
    assert [p.code for p in after.problems] == ["bad_transition"] and "after it was discarded" in after.problems[0].what
    forged = dict(state, pdf_sha256="p" * 64)
    bad = replay_certificate(number, [event(1, "discard", {"from": "pending", "to": "withdrawn", "state": forged,
                                                           "state_sha256": state_digest(forged)})])
    assert [(p.code, p.column) for p in bad.problems] == [("event_state_mismatch", "pdf_sha256")]


def test_a_successor_issued_by_another_process_meanwhile_is_not_called_stranded(cli, settings, products, monkeypatch):
    """Two `correct` runs of one certificate: the loser looked the successor up while the winner
    was still issuing it (pending), and read the old certificate after the winner had finished
    (replaced by that successor). It must say "already replaced", not "can never be issued:
    discard it" (a full run under load once told staff to discard an issued certificate)."""
    import dataclasses

    old = products["numbers"][0]
    assert cli(certgen, ["correct", old, "--set", "brand=Kencana A"]).exit_code == 0
    registry = Registry.open(settings.registry_url)
    try:
        successor = registry.get(old).replaced_by
        assert registry.get(successor).status is Status.ACTIVE
    finally:
        registry.close()
    real = Registry.find_by_batch_keys

    def stale(self, keys):  # what the loser saw before the winner's issue transaction committed
        return {key: dataclasses.replace(cert, status=Status.PENDING) for key, cert in real(self, keys).items()}

    monkeypatch.setattr(Registry, "find_by_batch_keys", stale)
    result = cli(certgen, ["correct", old, "--set", "brand=Kencana B"])
    assert result.exit_code == 1
    assert f"{old} is already replaced by {successor}" in result.output or "already replaced by" in result.output, result.output
    assert "can never be issued" not in result.output and "discard" not in result.output, result.output


def test_a_sheet_row_whose_successor_was_issued_meanwhile_is_not_called_stranded(cli, settings, products, monkeypatch,
                                                                                  tmp_path):
    """The same race through `issue --replaces-column` (the row check of certgen.replacing): the
    loser's look-up of successors is stale (pending), the old certificate already replaced by it."""
    import dataclasses

    from tests.test_replacement import _as_row, _successor_sheet

    old = products["numbers"][1]
    assert cli(certgen, ["correct", old, "--set", "brand=Kencana A"]).exit_code == 0
    registry = Registry.open(settings.registry_url)
    try:
        successor = registry.get(old).replaced_by
        row = _as_row(registry.get(old), brand="Kencana B")
    finally:
        registry.close()
    real = Registry.find_by_batch_keys

    def stale(self, keys):
        return {key: dataclasses.replace(cert, status=Status.PENDING) for key, cert in real(self, keys).items()}

    monkeypatch.setattr(Registry, "find_by_batch_keys", stale)
    sheet = _successor_sheet(tmp_path / "late.csv", [row])
    result = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "Old Number", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "already replaced by" in result.output and successor in result.output, result.output
    assert "can never be issued" not in result.output and "discard" not in result.output, result.output
