import base64
import gzip
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.credentials import repository
from services.credentials.status_list import (
    MAX_BITS,
    MIN_BITS,
    StatusBits,
    StatusEntry,
    build_status_list_credential,
    decode_list,
    encode_list,
    is_set,
    revocation_entry,
)

LIST_URL = "https://upskill.example/status-lists/1"
# The W3C Bitstring Status List v1.0 example: an empty 16 KB list.
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_default_list_is_the_spec_minimum_and_all_clear():
    bits = StatusBits()

    assert len(bits) == MIN_BITS == 131_072
    assert bits.to_bytes() == bytes(16_384)


@pytest.mark.parametrize(
    ("index", "byte", "value"),
    [(0, 0, 0x80), (1, 0, 0x40), (7, 0, 0x01), (8, 1, 0x80), (MIN_BITS - 1, 16_383, 0x01)],
)
def test_bit_zero_is_the_most_significant_bit_of_byte_zero(index, byte, value):
    bits = StatusBits()
    bits.set(index)

    raw = bits.to_bytes()
    assert raw[byte] == value
    assert sum(raw) == value


def test_set_and_clear_a_bit():
    bits = StatusBits()
    bits.set(5)
    bits.set(6)
    bits.set(5, False)

    assert not bits.get(5)
    assert bits.get(6)


@pytest.mark.parametrize("index", [-1, MIN_BITS, MIN_BITS + 100])
def test_index_outside_the_list_is_refused(index):
    bits = StatusBits()

    with pytest.raises(ValueError, match="outside"):
        bits.get(index)
    with pytest.raises(ValueError, match="outside"):
        bits.set(index)


@pytest.mark.parametrize("size", [0, 8, MIN_BITS - 8, MIN_BITS + 1, MAX_BITS + 8])
def test_sizes_below_the_minimum_or_not_whole_bytes_are_refused(size):
    with pytest.raises(ValueError, match="bits"):
        StatusBits(size)


def test_larger_lists_are_allowed():
    bits = StatusBits(MIN_BITS * 2)
    bits.set(MIN_BITS * 2 - 1)

    assert is_set(decode_list(encode_list(bits)), MIN_BITS * 2 - 1)


def test_encoding_is_multibase_base64url_of_gzip_without_padding():
    bits = StatusBits()
    bits.set(3)

    encoded = encode_list(bits)
    assert encoded.startswith("u")
    assert "=" not in encoded
    body = encoded[1:]
    assert gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))) == (
        bits.to_bytes()
    )


def test_encoding_is_deterministic():
    assert encode_list(StatusBits()) == encode_list(StatusBits())


def test_decodes_the_spec_example():
    assert decode_list(SPEC_EXAMPLE) == bytes(16_384)
    assert not is_set(SPEC_EXAMPLE, 0)


@given(st.sets(st.integers(min_value=0, max_value=MIN_BITS - 1), max_size=50))
def test_set_bits_survive_an_encode_decode_round_trip(indices):
    bits = StatusBits()
    for index in indices:
        bits.set(index)

    decoded = StatusBits.from_bytes(decode_list(encode_list(bits)))

    assert decoded == bits
    for index in indices:
        assert is_set(decoded, index)
    assert sum(b.bit_count() for b in decoded.to_bytes()) == len(indices)


def test_is_set_accepts_encoded_text_raw_bytes_and_bits():
    bits = StatusBits()
    bits.set(1234)

    for source in (encode_list(bits), bits.to_bytes(), bits):
        assert is_set(source, 1234)
        assert not is_set(source, 1235)


def test_is_set_refuses_an_index_beyond_the_list():
    with pytest.raises(ValueError, match="outside"):
        is_set(encode_list(StatusBits()), MIN_BITS)


def _multibase(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("", "prefix"),
        (SPEC_EXAMPLE[1:], "prefix"),
        ("z" + SPEC_EXAMPLE[1:], "prefix"),
        ("u!!!!", "base64url"),
        ("u" + SPEC_EXAMPLE[1:].replace("-", "+"), "base64url"),
        ("uA", "base64url"),
        (_multibase(b"not gzip at all"), "GZIP"),
        (_multibase(gzip.compress(bytes(16_384))[:-20]), "truncated"),
        (_multibase(gzip.compress(bytes(100))), "minimum"),
        (_multibase(gzip.compress(bytes(MAX_BITS // 8 + 1))), "maximum"),
    ],
    ids=[
        "empty",
        "no-prefix",
        "base58-prefix",
        "bad-chars",
        "standard-base64",
        "bad-length",
        "not-gzip",
        "truncated",
        "too-short",
        "gzip-bomb",
    ],
)
def test_malformed_encoded_lists_raise_value_error(encoded, message):
    with pytest.raises(ValueError, match=message):
        decode_list(encoded)


def test_padded_input_is_accepted():
    body = SPEC_EXAMPLE[1:]

    assert decode_list("u" + body + "=" * (-len(body) % 4)) == bytes(16_384)


@given(st.text(max_size=200))
def test_arbitrary_text_either_decodes_or_raises_value_error(text):
    try:
        raw = decode_list(text)
    except ValueError:
        return
    assert len(raw) * 8 >= MIN_BITS


def test_status_list_credential_shape():
    issuer = {"id": "https://upskill.example/issuers/p1", "type": ["Profile"], "name": "P"}
    encoded = encode_list(StatusBits())
    valid_from = datetime(2025, 1, 2, 3, 4, 5, 600, tzinfo=UTC)

    credential = build_status_list_credential(LIST_URL, issuer, encoded, valid_from)

    assert credential == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-02T03:04:05Z",
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded,
        },
    }


def test_status_list_credential_refuses_an_unreadable_list():
    with pytest.raises(ValueError, match="prefix"):
        build_status_list_credential(LIST_URL, {"id": "x"}, "garbage", datetime.now(UTC))


def _with_status(status: object) -> dict:
    return {"credentialStatus": status}


def test_revocation_entry_is_read_from_the_credential():
    entry = {
        "id": f"{LIST_URL}#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": LIST_URL,
    }

    assert revocation_entry(_with_status(entry)) == StatusEntry(LIST_URL, 94567)
    suspension = {**entry, "statusPurpose": "suspension"}
    assert revocation_entry(_with_status([suspension, entry])) == StatusEntry(LIST_URL, 94567)


def test_no_revocation_entry_means_none():
    assert revocation_entry({}) is None
    assert revocation_entry(_with_status({"type": "Other"})) is None


@pytest.mark.parametrize("index", ["-1", "1.5", " 7", "", 7, None, "٣"])
def test_a_revocation_entry_with_a_bad_index_is_an_error_not_none(index):
    entry = {
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": index,
        "statusListCredential": LIST_URL,
    }

    with pytest.raises(ValueError, match="statusListIndex"):
        revocation_entry(_with_status(entry))


def test_the_first_draws_are_independent_uniform_indexes_of_a_new_list() -> None:
    draws = [repository.first_draws() for _ in range(2000)]
    assert all(len(d) == repository.FIRST_DRAWS for d in draws)
    values = [v for d in draws for v in d]
    assert all(0 <= v < MIN_BITS for v in values)
    # Every bit of an index is drawn: each is set in about half the draws (32,000 of them:
    # a bit outside 40-60 % is over 35 standard deviations away).
    for bit in range(MIN_BITS.bit_length() - 1):
        share = sum(v >> bit & 1 for v in values) / len(values)
        assert 0.4 < share < 0.6, (bit, share)
    assert len(set(values)) > 0.8 * len(values)  # not one draw repeated
