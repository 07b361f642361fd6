"""Example FHIR R4 resources of HealthLedger's structured records, naming their patient and author
by address the way uploads must (healthledger/fhir/identifiers.py)."""

from __future__ import annotations

import json
from typing import Any

ADDRESS_SYSTEM = "urn:ethereum:address"


def person(address: str) -> dict[str, Any]:
    return {"identifier": {"system": ADDRESS_SYSTEM, "value": address}}


def medication_request(patient: str, doctor: str) -> dict[str, Any]:
    """Amoxicillin 500 mg three times a day for 7 days, 21 tablets, no refill."""
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "text": "Amoxicillin 500 mg capsule",
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "308191"}],
        },
        "subject": person(patient),
        "requester": person(doctor),
        "authoredOn": "2026-11-30T09:00:00Z",
        "dosageInstruction": [
            {
                "text": "500 mg three times a day for 7 days",
                "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d", "boundsDuration": {"value": 7, "unit": "d"}}},
                "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}],
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": 21, "unit": "capsule"},
            "numberOfRepeatsAllowed": 0,
            "validityPeriod": {"start": "2026-11-30", "end": "2026-12-30"},
        },
    }


def diagnostic_report(patient: str, doctor: str) -> dict[str, Any]:
    """A blood count with one haemoglobin result above its reference range (flagged H)."""
    return {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "Complete blood count"},
        "subject": person(patient),
        "performer": [person(doctor)],
        "issued": "2026-11-30T10:00:00Z",
        "contained": [
            {
                "resourceType": "Observation",
                "id": "hb",
                "status": "final",
                "code": {"text": "Haemoglobin", "coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                "subject": person(patient),
                "valueQuantity": {"value": 19.5, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
                "referenceRange": [{"low": {"value": 12, "unit": "g/dL"}, "high": {"value": 16, "unit": "g/dL"}}],
                "interpretation": [
                    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H"}]}
                ],
            }
        ],
        "result": [{"reference": "#hb"}],
        "conclusion": "Haemoglobin above range",
    }


def invoice(patient: str, doctor: str) -> dict[str, Any]:
    """One consultation, 120.50 EUR."""
    return {
        "resourceType": "Invoice",
        "status": "issued",
        "subject": person(patient),
        "issuer": person(doctor),
        "date": "2026-11-30",
        "lineItem": [
            {
                "sequence": 1,
                "chargeItemCodeableConcept": {"text": "Consultation"},
                "priceComponent": [{"type": "base", "amount": {"value": 120.5, "currency": "EUR"}}],
            }
        ],
        "totalNet": {"value": 120.5, "currency": "EUR"},
        "totalGross": {"value": 120.5, "currency": "EUR"},
    }


EXAMPLES = {"prescription": medication_request, "report": diagnostic_report, "bill": invoice}


def encoded(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource).encode()
