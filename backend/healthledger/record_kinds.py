"""The kinds of record a patient can store: the one table the contract, the API and the audit share.

The numbers are `HealthRecord.RecordKind` (the contract stores a uint8); the names are what the API
accepts as `recordType` and shows back. A neutral module so that chain/ and services/ both import
it without depending on each other.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["KIND_NAMES", "RECORD_KINDS", "RecordKindName"]

# The names, in the order of HealthRecord.RecordKind; a Literal so that the API's response models
# (and the web app's types generated from them) name the exact set.
RecordKindName = Literal["prescription", "bill", "report"]
# name -> HealthRecord.RecordKind
RECORD_KINDS: dict[str, int] = {name: number for number, name in enumerate(get_args(RecordKindName))}
# HealthRecord.RecordKind -> name
KIND_NAMES: dict[int, str] = {number: name for name, number in RECORD_KINDS.items()}
