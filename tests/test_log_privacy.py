"""Staff names stay out of what the public reads: the log shows a salted commitment to who acted
(certgen.registry.chain.actor_commitment), the registry keeps the name for auditors, and every
hash still verifies: `certgen log --verify`, the auditor over HTTP and `--log-proof`."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from certgen.cli import main as certgen
from certgen.registry import Registry, tlog
from certgen.registry.chain import actor_commitment, event_hash
from tests.conftest import NOW, PASSPHRASE
from tests.live_server import live_server
from tests.registry_helpers import issue_one
from verify.cli import main as certverify
from verify.log_source import entry_problem
from certgen.note import open_tree_head

STAFF = ("Siti Rahayu", "Bambang Wibowo", "tester")


@pytest.fixture
def world(settings, fresh_keystore):
    registry = Registry.open(settings.registry_url)
    numbers = [issue_one(registry, f"Holder {i}", NOW).number for i in range(3)]
    registry.suspend(numbers[0], reason="audit pending", now=NOW, actor=STAFF[0])
    registry.withdraw(numbers[1], reason="fraud", now=NOW, actor=STAFF[1])
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=NOW, folder=settings.data_dir / "log")
    yield {"registry": registry, "numbers": numbers, "keys": fresh_keystore, "url": settings.registry_url,
           "settings": settings}
    registry.close()


@pytest.fixture
def server(world):
    keys = world["keys"]
    with live_server(keys.trustlist_path, keys.root_cert_path, world["url"]) as (base, _port):
        yield base


def _public_texts(base: str, world) -> list[str]:
    """Everything the public can read about these certificates and the log."""
    size = tlog.latest_tree_head(world["registry"]).size
    paths = [f"/api/v1/log/entry/{i}" for i in range(size)]
    paths += [f"/api/v1/log/proof/{n}" for n in world["numbers"]]
    paths += [f"/api/v1/number/{n}" for n in world["numbers"]] + [f"/n?number={n}" for n in world["numbers"]]
    paths += ["/api/v1/status-list", "/api/v1/log/checkpoint"]
    texts = []
    for path in paths:
        response = httpx.get(base + path, timeout=30)
        assert response.status_code == 200, (path, response.text)
        texts.append(response.text)
    return texts


def test_the_public_never_reads_a_staff_name_but_sees_who_signed_and_what_happened(server, world):
    texts = _public_texts(server, world)
    for name in STAFF:
        assert not any(name in t for t in texts), name
    suspend = httpx.get(f"{server}/api/v1/log/proof/{world['numbers'][0]}", timeout=30).json()
    event = suspend["event"]
    assert (event["type"], event["reason"]) == ("suspend", "audit pending") and "actor" not in event
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", event["actor_commitment"])
    # who signed: the checkpoint is signed by the log key of the trust list, as before
    assert open_tree_head(suspend["checkpoint"], world["keys"].trust_list().log_keys).head.size == 5
    # the public check of the leaf recomputes the hash over the commitment
    head = open_tree_head(suspend["checkpoint"], world["keys"].trust_list().log_keys).head
    assert entry_problem(suspend, head) is None
    # a server that swaps in another commitment (or shows a name instead) is caught
    forged = json.loads(json.dumps(suspend))
    forged["event"]["actor_commitment"] = "sha256:" + "0" * 64
    assert entry_problem(forged, head) == "event 4 does not match its hash"
    both = json.loads(json.dumps(suspend))
    both["event"]["actor"] = STAFF[0]
    assert entry_problem(both, head) == "event 4 must show exactly one of actor and actor_commitment"


def test_auditors_keep_the_names_and_every_check_still_verifies(server, world, cli, tmp_path):
    registry = world["registry"]
    events = registry.events()
    assert [e.actor for e in events[3:]] == [STAFF[0], STAFF[1]]  # the registry keeps who acted
    for event in events:  # an auditor with the registry recomputes each commitment and hash
        assert len(event.actor_salt) == 32
        assert event_hash(event.prev_hash, seq=event.seq, at=event.at, type=event.type.value, number=event.number,
                          actor=actor_commitment(event.actor, event.actor_salt), reason=event.reason,
                          data=event.data) == event.hash
    # salts differ per event: one person's events cannot be linked by their commitment
    assert len({actor_commitment(e.actor, e.actor_salt) for e in events}) == len(events)
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 0, result.output
    keys = world["keys"]
    audit = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                            "log", "audit", "--url", server, "--state", str(tmp_path / "w"), "--json"],
                               catch_exceptions=False)
    assert audit.exit_code == 0 and json.loads(audit.output)["outcome"] == "first"
    proof = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                            "--registry", server, "--at", "2026-11-24T10:00:00+07:00", "--log-proof",
                                            "number", world["numbers"][0], "--json"], catch_exceptions=False)
    report = json.loads(proof.output)
    check = next(c for c in report["checks"] if c["name"] == "log_inclusion")
    assert report["verdict"] == "SUSPENDED" and check["reason"] == "log_inclusion_proven"


def test_a_staff_name_edited_in_the_registry_is_named_by_the_log_check(world, cli):
    """The commitment binds the event to the one name the registry holds."""
    with world["registry"].engine.begin() as conn:
        conn.execute(text("UPDATE events SET actor = 'Budi Santoso' WHERE seq = 4"))
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 1 and "event 4" in result.output and "does not match its hash" in result.output


def test_a_name_replaced_by_its_commitment_is_named_though_the_hash_matches(world, cli):
    """A database writer who puts the commitment itself in the actor column and clears the salt
    keeps the hash intact (it covers the commitment) but erases who acted: named."""
    event = world["registry"].events()[3]
    commitment = actor_commitment(event.actor, event.actor_salt)
    with world["registry"].engine.begin() as conn:
        conn.execute(text("UPDATE events SET actor = :c, actor_salt = NULL WHERE seq = 4"), {"c": commitment})
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 1 and "event 4: names no one" in result.output and "was erased" in result.output
    assert "does not match its hash" not in result.output


def test_the_publisher_of_a_trust_list_is_not_named_in_the_public_log(world):
    """A `trustlist` event is public (/api/v1/log/entry) and its data pins the trust_lists row,
    whose `actor` is the staff member who published: the event must carry a commitment, not the
    name, and still verify (publicly, and for `certgen log --verify`)."""
    from certgen.registry import live
    from certgen.registry.audit import verify_log
    from verify.log_source import entry_document

    registry, keys = world["registry"], world["keys"]
    live.publish_trust_list(registry, keys.trustlist_path.read_bytes(), keys.root_certificate(), now=NOW,
                            actor="Dewi Lestari")
    head = tlog.sign_checkpoint(registry, keys.log_signer(PASSPHRASE), now=NOW)
    seq = registry.head()[0]
    document = entry_document(registry, seq - 1)
    assert document["event"]["type"] == "trustlist"
    assert "Dewi" not in json.dumps(document)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", document["event"]["data"]["trust_list"]["actor"])
    head = open_tree_head(document["checkpoint"], keys.trust_list().log_keys).head
    assert entry_problem(document, head) is None
    assert verify_log(registry, keys.trust_list(), keys.root_certificate()).problems == []
    with registry.engine.begin() as conn:  # the row's publisher is still pinned by the log
        conn.execute(text("UPDATE trust_lists SET actor = 'Someone Else'"))
    problems = verify_log(registry, keys.trust_list(), keys.root_certificate()).problems
    assert [(p.code, p.column) for p in problems] == [("column_differs", "actor")]


def test_a_salt_shortened_by_white_space_cannot_move_its_bytes_into_the_name(world, cli):
    """bytes.fromhex skips white space: a 32-character salt ending in two spaces is 15 bytes,
    so a writer who moved the salt's last byte into the front of the name kept the commitment
    (and the hash) while changing who acted. Only 32 lower-case hex digits are a salt."""
    registry = world["registry"]
    number = world["numbers"][2]
    for turn in range(60):  # each event a fresh random salt: half end in an ASCII byte
        event = registry.events()[-1]
        if event.actor_salt and int(event.actor_salt[-2:], 16) < 0x80:
            break
        (registry.suspend if turn % 2 == 0 else registry.reinstate)(number, reason="check", now=NOW, actor=STAFF[2])
    salt, name = event.actor_salt[:-2] + "  ", chr(int(event.actor_salt[-2:], 16)) + event.actor
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE events SET actor = :a, actor_salt = :s WHERE seq = :q"),
                     {"a": name, "s": salt, "q": event.seq})
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 1 and f"event {event.seq}: content does not match its hash" in result.output
