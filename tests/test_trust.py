import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from certgen.errors import TrustListError
from certgen.keys import KeyStore
from certgen.trust import TrustList
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS


def test_signed_trust_list_round_trips_with_only_the_root(fresh_keystore):
    fresh_keystore.rotate(PASSPHRASE, now=NOW)
    at = NOW - timedelta(days=1)
    first = fresh_keystore.signers()[0].kid
    fresh_keystore.revoke(first.hex(), at=at, reason="key compromise")
    data = fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW)
    loaded = TrustList.load_signed(data, fresh_keystore.root_certificate())
    assert set(loaded.signers) == {s.kid for s in fresh_keystore.signers()}
    assert loaded.get(first).revoked_at == at
    assert loaded.get(first).revocation_reason == "key compromise"
    assert loaded.issued_at == NOW + timedelta(microseconds=1)  # the rotation signed one at NOW: each list is newer
    assert fresh_keystore.trustlist_path.read_bytes() == data


def _envelope(data: bytes) -> dict:
    return json.loads(data)


def test_tampered_payload_is_rejected(fresh_keystore):
    data = fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW)
    env = _envelope(data)
    payload = json.loads(base64.urlsafe_b64decode(env["payload"] + "=="))
    payload["signers"][0]["revoked_at"] = None
    payload["issued_at"] = "2030-01-01T00:00:00Z"
    env["payload"] = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(TrustListError, match="signature does not verify with the root"):
        TrustList.load_signed(json.dumps(env).encode(), fresh_keystore.root_certificate())


def test_another_root_is_rejected(fresh_keystore, tmp_path):
    other = KeyStore(tmp_path / "other", kdf_iterations=TEST_KDF_ITERATIONS)
    other.init(PASSPHRASE, now=NOW)
    data = other.signed_trust_list(PASSPHRASE, now=NOW)
    with pytest.raises(TrustListError, match="signature does not verify with the root"):
        TrustList.load_signed(data, fresh_keystore.root_certificate())


def test_dsc_of_another_root_signed_in_is_rejected(fresh_keystore, tmp_path):
    other = KeyStore(tmp_path / "other", kdf_iterations=TEST_KDF_ITERATIONS)
    other.init(PASSPHRASE, now=NOW)
    mixed = TrustList.from_certificates([s.certificate for s in fresh_keystore.signers()] +
                                        [s.certificate for s in other.signers()])
    root_key = fresh_keystore.root_signer(PASSPHRASE).private_key
    data = mixed.to_signed_json(root_key, fresh_keystore.root_certificate(), NOW)
    with pytest.raises(TrustListError, match="is not issued by the root"):
        TrustList.load_signed(data, fresh_keystore.root_certificate())


@pytest.mark.parametrize("data, message", [
    (b"not json", "not valid JSON"),
    (b"[]", "not valid JSON"),
    (b'{"format": "other/1"}', "format 'other/1'"),
    (b'{"format": "certgen-trustlist/1", "alg": "ES256"}', "envelope is malformed"),
    (b'{"format": "certgen-trustlist/1", "alg": "HS256", "payload": "", "signature": ""}', "envelope is malformed"),
])
def test_malformed_trust_lists(fresh_keystore, data, message):
    with pytest.raises(TrustListError, match=message):
        TrustList.load_signed(data, fresh_keystore.root_certificate())


def test_revoked_signer_judges_by_signing_time(keystore):
    trust = keystore.trust_list()
    kid = next(iter(trust.signers))
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    revoked = trust.revoke(kid, at, "compromise").get(kid)
    assert revoked.problem_at(at - timedelta(seconds=1)) is None
    assert revoked.problem_at(at).value == "key_revoked"
    assert trust.get(kid).problem_at(at) is None  # the original is unchanged
