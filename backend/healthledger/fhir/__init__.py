"""FHIR R4 structured records (the R4B models of `fhir.resources`, FHIR R4-compatible): checking an
uploaded resource against its record and building the exported Bundle.

An adapter-level package like crypto/ or storage/: no FastAPI, no services. `validation.py` checks a
document for a record kind, its subject and its author; `bundle.py` builds the export's entries
and the Bundle itself; `identifiers.py` names the identifier systems both use.
"""

from __future__ import annotations

from .identifiers import ADDRESS_SYSTEM, FHIR_CONTENT_TYPE, is_fhir_content_type
from .validation import (
    MAX_FHIR_BYTES,
    RESOURCE_OF_KIND,
    CheckedResource,
    check_record_resource,
    parse_stored_resource,
)

__all__ = [
    "ADDRESS_SYSTEM",
    "FHIR_CONTENT_TYPE",
    "MAX_FHIR_BYTES",
    "RESOURCE_OF_KIND",
    "CheckedResource",
    "check_record_resource",
    "is_fhir_content_type",
    "parse_stored_resource",
]
