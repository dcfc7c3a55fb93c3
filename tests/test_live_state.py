"""Trust lists published to the registry and the web's version check (certgen.registry.live,
verify.live): only root-signed lists are used, never an older one, and exactly the cached
results that changed are dropped."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from certgen.cli import main as certgen
from certgen.errors import TrustListError
from certgen.keys import KeyStore
from certgen.model import DocumentKind, Series
from certgen.registry import Issued, NewCertificate
from certgen.registry import live
from certgen.seal import SealClaims, seal_text, sign_seal
from certgen.trust import TrustList
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS
from verify.live import LiveRegistryStatus, LiveState, changed_signers
from verify.report import Reason, Verdict
from verify.service import Verifier
from tests.test_verify import issued  # noqa: F401 - the module fixture (three issued PDFs)

URL = "https://verifikasi.example.id/v/"


def _issue(registry, signer, name: str, now=NOW) -> tuple[str, str]:
    item = NewCertificate(Series.PERSON, name, "SKM-PTK-03", date(2026, 11, 1), date(2029, 10, 31), {"name": name},
                          f"live-{name}")
    (reserved,) = registry.reserve([item], now=now)
    claims = SealClaims(reserved.number, DocumentKind.PERSON, name, "SKM-PTK-03", date(2026, 11, 1),
                        date(2029, 10, 31), "ID-BSKP", now)
    seal = seal_text(sign_seal(claims, signer), URL)
    registry.mark_issued_many([Issued(reserved.number, "ab" * 32, None, seal)], dsc_kid=signer.kid.hex(), now=now,
                              actor="t")
    return reserved.number, seal


def _insert(registry, data: bytes, issued_at: datetime) -> None:
    """What a database writer can do: add a row behind the publisher's back."""
    import hashlib

    with registry.engine.begin() as conn:
        conn.execute(text("INSERT INTO trust_lists (issued_at, sha256, data, published_at, actor) "
                          "VALUES (:i, :s, :d, :p, 'intruder')"),
                     {"i": issued_at.replace(tzinfo=None), "s": hashlib.sha256(data).hexdigest(), "d": data.decode(),
                      "p": NOW.replace(tzinfo=None)})


def test_publishing_checks_the_root_and_refuses_an_older_list(fresh_keystore, registry, tmp_path):
    store, root = fresh_keystore, fresh_keystore.root_certificate()
    first = store.trustlist_path.read_bytes()
    published, new = live.publish_trust_list(registry, first, root, now=NOW, actor="t")
    assert new and published.issued_at == datetime(2026, 10, 24, tzinfo=timezone.utc)
    assert live.publish_trust_list(registry, first, root, now=NOW, actor="t")[1] is False  # the same again: no change
    envelope = json.loads(first)
    payload = base64.urlsafe_b64decode(envelope["payload"] + "==").replace(b"2026-10-24", b"2027-10-24")
    envelope["payload"] = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    with pytest.raises(TrustListError, match="signature does not verify"):
        live.publish_trust_list(registry, json.dumps(envelope).encode(), root, now=NOW, actor="t")
    other = KeyStore(tmp_path / "other", kdf_iterations=TEST_KDF_ITERATIONS)
    other.init(PASSPHRASE, now=NOW)
    with pytest.raises(TrustListError, match="signature does not verify"):
        live.publish_trust_list(registry, other.trustlist_path.read_bytes(), root, now=NOW, actor="t")
    newer = store.signed_trust_list(PASSPHRASE, now=NOW)
    assert live.publish_trust_list(registry, newer, root, now=NOW, actor="t")[0].id == published.id + 1
    with pytest.raises(TrustListError, match="not newer than the one published"):
        live.publish_trust_list(registry, first, root, now=NOW, actor="t")
    assert live.latest_trust_list(registry).data == newer and live.count_trust_lists(registry) == 2


def test_changed_signers_names_exactly_what_changed(fresh_keystore):
    store = fresh_keystore
    before = store.trust_list()
    first = before.signers and next(iter(before.signers))
    store.rotate(PASSPHRASE, now=NOW)
    rotated = store.trust_list()
    second = next(k for k in rotated.signers if k != first)
    assert changed_signers(before, rotated) == {second}
    revoked = rotated.revoke(first, NOW, "kunci bocor")
    assert changed_signers(rotated, revoked) == {first}
    assert changed_signers(revoked, revoked.with_verify_urls([URL])) is None  # every seal depends on the addresses


def test_the_web_uses_a_newer_signed_list_and_names_a_rollback_or_a_planted_one(fresh_keystore, registry):
    store, root = fresh_keystore, fresh_keystore.root_certificate()
    first_bytes = store.trustlist_path.read_bytes()
    first_trust = TrustList.load_signed(first_bytes, root)
    old_signer = store.current_signer(PASSPHRASE, now=NOW)
    _, old_seal = _issue(registry, old_signer, "Ani")
    status = LiveRegistryStatus(registry, lambda: NOW)
    verifier = Verifier(first_trust, status, root, lambda: NOW)
    swaps = []

    def on_trust(data, trust, kids):
        swaps.append(kids)
        verifier.use_trust(trust, kids)

    state = LiveState(registry, root, first_bytes, first_trust, interval=0, on_trust=on_trust, listeners=[status])
    state.poll()
    # a rotation, its list published: the new signer's seal turns VALID, the old signer's good seal stays cached
    store.rotate(PASSPHRASE, now=NOW + timedelta(minutes=1))
    new_signer = store.current_signer(PASSPHRASE, now=NOW + timedelta(minutes=2))
    _, new_seal = _issue(registry, new_signer, "Budi", now=NOW + timedelta(minutes=2))
    assert verifier.verify_seal(old_seal).verdict is Verdict.VALID
    assert verifier.verify_seal(new_seal).checks[0].reason is Reason.SEAL_UNKNOWN_SIGNER
    live.publish_trust_list(registry, store.trustlist_path.read_bytes(), root, now=NOW, actor="t")
    state.poll()
    assert swaps == [{new_signer.kid}] and verifier.cached_seal(old_seal) is not None
    assert verifier.verify_seal(new_seal).verdict is Verdict.VALID
    # a revocation of the old signer: exactly its good seals go
    store.revoke(old_signer.kid.hex(), at=NOW - timedelta(days=1), reason="kunci bocor")
    revoked_bytes = store.signed_trust_list(PASSPHRASE, now=NOW + timedelta(minutes=3))
    live.publish_trust_list(registry, revoked_bytes, root, now=NOW, actor="t")
    state.poll()
    assert swaps[-1] == {old_signer.kid} and verifier.cached_seal(new_seal) is not None
    assert verifier.verify_seal(old_seal).checks[0].reason is Reason.SEAL_KEY_REVOKED
    # a database writer puts the first (signed, unrevoked) list back as the newest row: not the list the log names
    _insert(registry, first_bytes, datetime(2026, 10, 24, tzinfo=timezone.utc))
    state.poll()
    assert "published trust list 3 (issued at 2026-10-24 00:00:00Z) is not the newest list the log names" in state.problem
    assert verifier.verify_seal(old_seal).checks[0].reason is Reason.SEAL_KEY_REVOKED
    # ... or plants a list of its own making: its signature does not verify
    envelope = json.loads(revoked_bytes)
    payload = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=="))
    for signer in payload["signers"]:
        signer["revoked_at"] = None
    payload["issued_at"] = "2030-01-01T00:00:00Z"
    envelope["payload"] = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    _insert(registry, json.dumps(envelope).encode(), datetime(2030, 1, 1, tzinfo=timezone.utc))
    state.poll()
    assert "published trust list 4 (issued at 2030-01-01 00:00:00Z) is not the newest list the log names" in state.problem
    assert verifier.verify_seal(old_seal).checks[0].reason is Reason.SEAL_KEY_REVOKED
    assert len(swaps) == 2


def test_the_status_cache_drops_exactly_the_numbers_with_new_events(fresh_keystore, registry):
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    first, _ = _issue(registry, signer, "Citra")
    second, _ = _issue(registry, signer, "Dewi")
    status = LiveRegistryStatus(registry, lambda: NOW)
    reads = []
    fetch = status.fetch
    status.fetch = lambda number: reads.append(number) or fetch(number)  # type: ignore[method-assign]
    state = LiveState(registry, fresh_keystore.root_certificate(), fresh_keystore.trustlist_path.read_bytes(),
                      fresh_keystore.trust_list(), interval=3600, on_trust=lambda *a: None, listeners=[status])
    state.poll(force=True)
    for number in (first, second, first, second):
        assert status.lookup(number).status.value == "valid"
    assert reads == [first, second]
    registry.suspend(first, reason="pengaduan", now=NOW, actor="t")
    assert status.lookup(first).status.value == "valid"  # throttled: not checked yet
    state.poll()
    assert status.lookup(first).status.value == "valid"  # within the interval: still not checked
    state.poll(force=True)
    assert status.lookup(first).status.value == "suspended" and status.lookup(second).status.value == "valid"
    assert reads == [first, second, first]


def test_keys_commands_publish_and_trust_publish_refuses_an_older_list(cli, settings, tmp_path):
    older = (settings.keys_dir / "trustlist.json").read_bytes()
    rotated = cli(certgen, ["keys", "rotate"])
    assert rotated.exit_code == 0 and "trust list published to the registry (version 1)" in rotated.output
    status = cli(certgen, ["trust", "status"])
    assert status.exit_code == 0 and "version 1: issued at 2026-11-24 03:00:00Z" in status.output
    again = cli(certgen, ["trust", "publish"])
    assert again.exit_code == 0 and "already the newest published (version 1" in again.output
    (tmp_path / "old.json").write_bytes(older)
    refused = cli(certgen, ["trust", "publish", str(tmp_path / "old.json")])
    assert refused.exit_code == 1 and "is not newer than the one published" in refused.output
    (tmp_path / "bad.json").write_bytes(b"{}")
    bad = cli(certgen, ["trust", "publish", str(tmp_path / "bad.json")])
    assert bad.exit_code == 1 and "trust list format None" in bad.output
    # a second key change in the same instant (the frozen clock): signed 1 µs after the last list, published
    revoked = cli(certgen, ["keys", "revoke", rotated.output.split()[2], "--at", "2026-11-25", "--reason", "uji"])
    assert revoked.exit_code == 0 and "trust list published to the registry (version 2)" in revoked.output
    again = cli(certgen, ["keys", "trustlist"])
    assert again.exit_code == 0 and "trust list published to the registry (version 3)" in again.output
    root = KeyStore(settings.keys_dir).root_certificate()
    times = [TrustList.load_signed(p.data, root).issued_at for p in _published(settings.registry_url)]
    assert times == [NOW, NOW + timedelta(microseconds=1), NOW + timedelta(microseconds=2)]
    # ... and a rollback is still refused: the first of them again
    first = tmp_path / "first.json"
    first.write_bytes(_published(settings.registry_url)[0].data)
    assert "is not newer than the one published" in cli(certgen, ["trust", "publish", str(first)]).output


def _published(url: str) -> list:
    """Every published trust list, oldest first."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from certgen.registry import Registry
    from certgen.registry.tables import TrustListRow

    registry = Registry.open(url)
    try:
        with Session(registry.engine) as session:
            return [live._published(r) for r in session.scalars(select(TrustListRow).order_by(TrustListRow.id))]
    finally:
        registry.close()


def test_a_registry_from_before_published_trust_lists_still_gives_its_event_version(registry, fresh_keystore):
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    _issue(registry, signer, "Eka")
    with registry.engine.begin() as conn:
        conn.execute(text("DROP TABLE trust_lists"))  # as migrated before 0011_live_state
    assert live.versions(registry) == live.Versions(events=1, trust=None)
    assert live.changed_numbers(registry, 0, 1) == {registry.events()[0].number}
    assert live.changed_numbers(registry, 0, 1, limit=0) is None  # more than the limit: drop everything


def test_an_upload_is_judged_under_one_trust_list_when_a_new_one_arrives_midway(issued, monkeypatch):  # noqa: F811
    """A PDF upload runs in a worker thread while the version check swaps the trust list on the
    event loop: the signature and the seal of one file are both judged under the list the check
    started with, never the signature under the old list and the seal under the new one."""
    from verify import pdf as pdf_module

    keys, signer, data = issued["keys"], issued["signer"], issued["pdfs"][0]
    before = keys.trust_list()
    after = before.revoke(signer.kid, NOW - timedelta(days=1), "kunci bocor")

    def make(trust):
        return Verifier(trust, LiveRegistryStatus(issued["registry"], lambda: NOW), keys.root_certificate(), lambda: NOW)

    verifier = make(before)
    original = pdf_module.check_pdf

    def swapped_midway(*args, **kwargs):
        result = original(*args, **kwargs)
        verifier.use_trust(after, frozenset({signer.kid}))  # what a concurrent LiveState.poll does
        return result

    monkeypatch.setattr(pdf_module, "check_pdf", swapped_midway)
    report = verifier.verify_pdf(data)
    assert [(c.name, c.reason) for c in report.checks[:2]] == [("pdf_signature", Reason.PDF_SIGNATURE_VALID),
                                                               ("seal", Reason.SEAL_VALID)]
    assert report.verdict is Verdict.VALID and report.checks == make(before).verify_pdf(data).checks
    monkeypatch.setattr(pdf_module, "check_pdf", original)
    assert verifier.verify_pdf(data).checks[0].reason is Reason.PDF_SIGNER_REVOKED  # the next file: the new list


def test_spellings_of_one_good_seal_share_one_cache_entry(fresh_keystore, registry):
    """The good-seal cache is bounded in entries, so its memory is bounded by its keys: every
    spelling of one seal (letter case, white space around it, as `/v/%20%20...` or the JSON API
    send it) is one entry, not one entry of up to 4 KB each (50,000 of them: 250 MB a worker)."""
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    _, seal = _issue(registry, signer, "Fajar")
    code = seal.rsplit("/v/", 1)[1]
    verifier = Verifier(fresh_keystore.trust_list(), LiveRegistryStatus(registry, lambda: NOW),
                        fresh_keystore.root_certificate(), lambda: NOW)
    spellings = [" " * i + "".join(c.lower() if (i >> (n % 8)) & 1 else c for n, c in enumerate(code)) + "\t" * i
                 for i in range(40)]
    spellings += [" " * 100 + seal, "\n" + seal.upper().replace("HTTPS", "https")]
    for spelling in spellings:
        assert verifier.verify_seal(spelling).verdict is Verdict.VALID, spelling
        assert verifier.cached_seal(spelling) is not None
    assert len(verifier._good_seals) <= 3  # the bare code, the address as printed, the address upper-cased
    assert all(len(key) <= len(seal) for key in verifier._good_seals)
    assert verifier.verify_seal(code.lower() + "Q").checks[0].reason is Reason.SEAL_MALFORMED  # not a spelling of it


def test_a_trust_list_table_the_web_may_not_read_is_a_failed_check_not_no_trust_lists(fresh_keystore, registry):
    """After a migration without `certgen registry grant`, the web role cannot read the new
    `trust_lists` table: that must not pass for a registry from before published trust lists
    (every published list, every revocation, silently ignored), but fail the check, named."""
    import sqlite3

    from sqlalchemy import event

    root = fresh_keystore.root_certificate()
    live.publish_trust_list(registry, fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW), root, now=NOW, actor="t")

    def deny_trust_lists(action, table, *_):
        return sqlite3.SQLITE_DENY if table == "trust_lists" else sqlite3.SQLITE_OK

    event.listen(registry.engine, "connect", lambda conn, _record: conn.set_authorizer(deny_trust_lists))
    registry.engine.dispose()
    with pytest.raises(Exception, match="access to trust_lists.id is prohibited"):  # PostgreSQL: permission denied
        live.versions(registry)
    trust_bytes = fresh_keystore.trustlist_path.read_bytes()
    state = LiveState(registry, root, trust_bytes, TrustList.load_signed(trust_bytes, root), interval=0,
                      on_trust=lambda *a: None, listeners=[])
    state.poll()
    assert not state.ok and state.problem.startswith("registry version check failed")


def test_rows_of_a_registry_whose_log_names_no_list_are_still_checked(fresh_keystore, registry):
    """A registry where no trust list event exists (rows written by a writer, or a schema where
    they were never logged): the newest row is still used only when root-signed and newer."""
    store, root = fresh_keystore, fresh_keystore.root_certificate()
    first = store.trustlist_path.read_bytes()
    trust = TrustList.load_signed(first, root)
    state = LiveState(registry, root, first, trust, interval=0, on_trust=lambda *a: None, listeners=[])
    newer = store.signed_trust_list(PASSPHRASE, now=NOW)
    _insert(registry, newer, NOW)
    state.poll()
    assert state.trust.issued_at == NOW and state.problem is None and state.logged is None
    _insert(registry, first, datetime(2026, 10, 24, tzinfo=timezone.utc))
    state.poll()
    assert "not newer than the trust list in use" in state.problem and "rollback" in state.problem
    envelope = json.loads(newer)
    envelope["signature"] = envelope["signature"][:-4] + "AAAA"
    _insert(registry, json.dumps(envelope).encode(), datetime(2030, 1, 1, tzinfo=timezone.utc))
    state.poll()
    assert "published trust list 3 (issued at 2030-01-01 00:00:00Z) refused: trust list signature does not verify" in \
        state.problem
    assert state.trust.issued_at == NOW
