"""Validate an exported FHIR Bundle file with the backend's `fhir.resources` (R4B) and print what it
holds as JSON, for the browser test (fhir.test.mjs) to assert on.

Each entry's resource is validated twice: as part of the Bundle, and on its own with its concrete
model (get_fhir_model_class), so a MedicationRequest is checked as one even if the Bundle model
accepted it as a generic Resource. Exits non-zero with pydantic's message when anything is invalid.

Usage: .venv/bin/python tests/browser/lib/validate_fhir_bundle.py FILE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle


def summary(path: Path) -> dict[str, object]:
    raw = path.read_bytes()
    bundle = Bundle.model_validate_json(raw)
    document = json.loads(raw)
    entries = []
    for entry in document.get("entry", []):
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        flags = [
            coding.get("code")
            for observation in resource.get("contained", [])
            for interpretation in observation.get("interpretation", [])
            for coding in interpretation.get("coding", [])
        ]
        entries.append({"resourceType": resource["resourceType"], "flags": flags})
    return {"resourceType": "Bundle", "type": bundle.type, "entries": entries}


if __name__ == "__main__":
    print(json.dumps(summary(Path(sys.argv[1]))))
