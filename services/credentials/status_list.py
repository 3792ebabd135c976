"""W3C Bitstring Status List v1.0: the revocation bitstring and its credential.

Bit ``i`` is the most significant bit of byte ``i // 8`` (the spec's "left-most bit is
index 0"); a set bit means revoked.
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.credentials.badges import VC_CONTEXT, format_timestamp

# The spec's floor: a list this long hides which credential a verifier is asking about.
MIN_BITS = 131_072
# Decoding cap, so a hostile or corrupt list cannot gzip-bomb the verifier.
MAX_BITS = 8 * 16 * 1024 * 1024
STATUS_PURPOSE = "revocation"

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class StatusBits:
    """A fixed-size, mutable bitstring; indexes outside it raise ValueError."""

    __slots__ = ("_data",)

    def __init__(self, size: int = MIN_BITS) -> None:
        _check_size(size)
        self._data = bytearray(size // 8)

    @classmethod
    def from_bytes(cls, data: bytes) -> StatusBits:
        _check_size(len(data) * 8)
        bits = cls.__new__(cls)
        bits._data = bytearray(data)
        return bits

    def __len__(self) -> int:
        return len(self._data) * 8

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StatusBits) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable like bytearray

    def __repr__(self) -> str:
        return f"StatusBits(size={len(self)}, set={sum(b.bit_count() for b in self._data)})"

    def get(self, index: int) -> bool:
        byte, mask = self._locate(index)
        return bool(self._data[byte] & mask)

    def set(self, index: int, value: bool = True) -> None:
        byte, mask = self._locate(index)
        if value:
            self._data[byte] |= mask
        else:
            self._data[byte] &= ~mask & 0xFF

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise ValueError(f"status index {index} is outside the list (size {len(self)})")
        return index // 8, 0x80 >> (index % 8)


def _check_size(size: int) -> None:
    if size < MIN_BITS or size > MAX_BITS or size % 8:
        raise ValueError(
            f"a status list has between {MIN_BITS} and {MAX_BITS} bits, a multiple of 8; got {size}"
        )


def encode_list(bits: StatusBits | bytes) -> str:
    """Multibase base64url (``u``, unpadded) of the GZIP-compressed bitstring."""
    raw = bits.to_bytes() if isinstance(bits, StatusBits) else bytes(bits)
    _check_size(len(raw) * 8)
    # mtime=0 keeps the output a pure function of the bits (stable ETags, simple tests).
    compressed = gzip.compress(raw, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode_list(encoded: str) -> bytes:
    """The bitstring behind an ``encodedList``; ValueError for anything malformed."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (a 'u' prefix)")
    body = encoded[1:]
    if not _BASE64URL.fullmatch(body):
        raise ValueError("encodedList is not base64url")
    body = body.rstrip("=")
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError as exc:
        raise ValueError("encodedList is not base64url") from exc
    raw = _gunzip(compressed, MAX_BITS // 8)
    if len(raw) * 8 < MIN_BITS:
        raise ValueError(f"status list is shorter than the {MIN_BITS}-bit minimum")
    return raw


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP framing only
    try:
        raw = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ValueError("encodedList is not GZIP data") from exc
    if len(raw) > limit:
        raise ValueError(f"status list is longer than the {MAX_BITS}-bit maximum")
    if not inflater.eof:
        raise ValueError("encodedList GZIP data is truncated")
    return raw


def is_set(encoded_or_bytes: str | bytes | StatusBits, index: int) -> bool:
    """Whether bit ``index`` is set; ValueError for a malformed list or an index outside it."""
    if isinstance(encoded_or_bytes, StatusBits):
        bits = encoded_or_bytes
    elif isinstance(encoded_or_bytes, str):
        bits = StatusBits.from_bytes(decode_list(encoded_or_bytes))
    else:
        bits = StatusBits.from_bytes(bytes(encoded_or_bytes))
    return bits.get(index)


def build_status_list_credential(
    list_url: str,
    issuer: dict[str, Any],
    encoded_list: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """The BitstringStatusListCredential published at ``list_url`` (unsigned)."""
    decode_list(encoded_list)  # never publish a list verifiers cannot read
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": format_timestamp(valid_from),
    }
    if valid_until is not None:
        credential["validUntil"] = format_timestamp(valid_until)
    credential["credentialSubject"] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": STATUS_PURPOSE,
        "encodedList": encoded_list,
    }
    return credential


@dataclass(frozen=True)
class StatusEntry:
    """Where a credential's revocation bit lives."""

    list_url: str
    index: int


def revocation_entry(credential: Mapping[str, Any]) -> StatusEntry | None:
    """The credential's revocation BitstringStatusListEntry.

    None when it has none (it cannot be revoked); ValueError when one is present but
    unreadable, which a verifier must treat as "status unavailable", not as "not revoked".
    """
    statuses = credential.get("credentialStatus")
    if statuses is None:
        return None
    entries = statuses if isinstance(statuses, list) else [statuses]
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ValueError("credentialStatus entries must be objects")
        if entry.get("type") != "BitstringStatusListEntry":
            continue
        if entry.get("statusPurpose") != STATUS_PURPOSE:
            continue
        url = entry.get("statusListCredential")
        index = entry.get("statusListIndex")
        if not isinstance(url, str) or not url:
            raise ValueError("statusListCredential must be a URL")
        # The spec makes the index a string of digits; refuse signs, spaces and floats.
        if not isinstance(index, str) or not index.isascii() or not index.isdigit():
            raise ValueError("statusListIndex must be a non-negative integer string")
        return StatusEntry(list_url=url, index=int(index))
    return None
