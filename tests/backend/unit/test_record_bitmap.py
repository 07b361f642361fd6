"""chain/actions.py: record ids <-> ApproveRecords' (startWord, words), and the table's derived fields."""

from __future__ import annotations

import random

import pytest

from healthledger.chain.actions import ACTIONS, MAX_BITMAP_WORDS, bitmap_record_ids, record_bitmap


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([0], (0, [1])),
        ([0, 2], (0, [0b101])),
        ([255], (0, [1 << 255])),
        ([256], (1, [1])),
        ([3, 3, 1], (0, [0b1010])),  # duplicates and order do not matter
        ([255, 256], (0, [1 << 255, 1])),  # spans two words
        ([300, 900], (1, [1 << 44, 0, 1 << 132])),  # an empty word in between is kept
        ([2**40], (2**32, [1])),
        ([0, MAX_BITMAP_WORDS * 256 - 1], (0, [1, *[0] * (MAX_BITMAP_WORDS - 2), 1 << 255])),  # the widest span
    ],
)
def test_record_bitmap(ids: list[int], expected: tuple[int, list[int]]) -> None:
    assert record_bitmap(ids) == expected
    assert bitmap_record_ids(*expected) == sorted(set(ids))


def test_round_trip_random_selections() -> None:
    rng = random.Random(12)
    for _ in range(200):
        ids = rng.sample(range(0, 2000), rng.randint(1, 40))
        start, words = record_bitmap(ids)
        assert start == min(ids) // 256 and len(words) == max(ids) // 256 - start + 1
        assert words[0] and words[-1]  # as few words as needed
        assert bitmap_record_ids(start, words) == sorted(ids)


@pytest.mark.parametrize("ids", [[], [-1], [0, -5], [0, 2**255], [0, MAX_BITMAP_WORDS * 256]])
def test_record_bitmap_refuses(ids: list[int]) -> None:
    with pytest.raises(ValueError):
        record_bitmap(ids)


def test_approve_records_fields_come_from_one_param() -> None:
    entry = ACTIONS["approveRecords"]
    assert entry.params == ("doctor", "duration", "recordIds")
    doctor = "0x" + "11" * 20
    fields = entry.fields_from_params({"doctor": doctor, "duration": 60, "recordIds": [2, 257]}, signer="0x" + "22" * 20)
    assert fields == {"doctor": doctor, "duration": 60, "startWord": 0, "words": [1 << 2, 1 << 1]}


def test_server_filled_fields() -> None:
    caller = "0x" + "33" * 20
    assert ACTIONS["invalidateNonce"].params == ("patientAddress",)
    assert ACTIONS["invalidateNonce"].fields_from_params({}, signer=caller) == {"account": caller}
    assert ACTIONS["addRecordAsDoctor"].params == ("patientAddress", "recordType", "contentHash")
    extension = ACTIONS["approveExtension"]
    assert extension.params == ("doctor", "extra") and extension.needs_generation
    assert extension.fields_from_params({"doctor": caller, "extra": 5}, signer=caller, generation=7)["generation"] == 7
    with pytest.raises(ValueError):
        extension.fields_from_params({"doctor": caller, "extra": 5}, signer=caller)
