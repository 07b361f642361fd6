"""The kinds of record a patient can store: the one table the contract, the API and the audit share.

The numbers are `HealthRecord.RecordKind` (the contract stores a uint8); the names are what the API
accepts as `recordType` and shows back. A neutral module so that chain/ and services/ both import
it without depending on each other.
"""

from __future__ import annotations

__all__ = ["KIND_NAMES", "RECORD_KINDS"]

# name -> HealthRecord.RecordKind
RECORD_KINDS: dict[str, int] = {"prescription": 0, "bill": 1, "report": 2}
# HealthRecord.RecordKind -> name
KIND_NAMES: dict[int, str] = {number: name for name, number in RECORD_KINDS.items()}
