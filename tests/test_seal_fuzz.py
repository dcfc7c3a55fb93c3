"""Hostile input never crashes or hangs the seal codec: a clear error or a failed result."""

from datetime import timedelta

import cbor2
from hypothesis import HealthCheck, given, settings, strategies as st

from certgen.errors import SealFormatError
from certgen.seal import SealReason, open_seal, parse_seal_text, seal_text, sign_seal, verify_sign1
from tests.conftest import NOW
from tests.test_seal import URL, person_claims

FUZZ = settings(max_examples=400, deadline=timedelta(milliseconds=500), suppress_health_check=[HealthCheck.function_scoped_fixture])

cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.binary(max_size=80) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.integers(-70000, 10) | st.text(max_size=4), inner, max_size=5),
    max_leaves=25,
)


@FUZZ
@given(text=st.text(max_size=600))
def test_any_text_parses_or_names_the_problem(text):
    try:
        parse_seal_text(text)
    except SealFormatError as exc:
        assert str(exc)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_any_bytes_verify_to_a_result(keystore, data):
    result = verify_sign1(data, keystore.trust_list(), NOW)
    assert not result.ok and result.reason in SealReason


@FUZZ
@given(value=cbor_values)
def test_any_cbor_structure_verifies_to_a_result(keystore, value):
    for wrapped in (value, cbor2.CBORTag(18, value), [cbor2.dumps(value) if not isinstance(value, bytes) else value, {}, b"", b""]):
        try:
            data = cbor2.dumps(wrapped)
        except Exception:
            continue
        result = verify_sign1(data, keystore.trust_list(), NOW)
        assert not result.ok and result.detail


@FUZZ
@given(data=st.data())
def test_mutated_real_seal_never_verifies_and_never_raises(keystore, signer, data):
    text = seal_text(sign_seal(person_claims(), signer), URL)
    body = text[len(URL):]
    action = data.draw(st.sampled_from(["truncate", "replace", "insert", "lower", "append"]))
    pos = data.draw(st.integers(0, len(body) - 1))
    if action == "truncate":
        body = body[:pos]
    elif action == "replace":
        body = body[:pos] + data.draw(st.characters(codec="ascii").filter(lambda c: c.upper() != body[pos])) + body[pos + 1:]
    elif action == "insert":
        body = body[:pos] + data.draw(st.text(max_size=3, min_size=1)) + body[pos:]
    elif action == "lower":
        body = body.lower()  # lower case is the same code: still valid
    else:
        body = body + data.draw(st.sampled_from(["A", "AAAAAAAA", "=="]))
    result = open_seal(URL + body, keystore.trust_list(), NOW)
    if action == "lower":
        assert result.ok
    else:
        assert not result.ok, (action, pos)


def test_deeply_nested_cbor_is_malformed_not_a_crash(keystore):
    data = b"\x81" * 2000 + b"\x00"
    result = verify_sign1(data, keystore.trust_list(), NOW)
    assert result.reason is SealReason.MALFORMED
