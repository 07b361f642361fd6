"""Importing a FHIR Bundle from another provider, step one: POST /api/fhir/import/prepare.

The server turns the Bundle into the exact bytes of each record (fhir/importing.py: people
rewritten to the patient, the source noted) and hands them back; the patient's client then draws a
salt per record, signs AddRecord over SHA-256(salt ‖ bytes) (the typed-data endpoint serves it; the
nonces n, n+1, … may all be signed first: the relayer queue accepts nonces ahead) and sends each
through the ordinary POST /api/medical-records/upload. Nothing is stored here: no document, no pin,
no transaction, so preparing twice or abandoning half-way leaves no trace, and every record that
lands passed the upload's own checks with the patient's own signature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..container import Services
from ..fhir.import_plan import plan_json


async def prepare_import(services: Services, patient: str, read_body: Callable[[], Awaitable[bytes]]) -> bytes:
    """The records a Bundle (FHIR JSON, read by `read_body`) becomes in `patient`'s vault, and the
    entries refused: the answer's JSON bytes (the API's `ImportPlan`).

    Why the body is read here, in a turn (`services.bundle_turns`): a Bundle at the upload limit is
    held several times over (the body, its parsed JSON, the decoded files, their base64 again, the
    answer), about 250 MB for 48 MB; four at once grew an instance by 536-719 MB. A request
    waiting for its turn has not read its body yet. Why bytes, built off the event loop: encoding
    and serialising tens of MB held the loop for every other request, and parsing them in a thread
    still did (`json.loads` holds the GIL): the work runs in a worker process (process_workers.py).
    """
    async with services.bundle_turns:
        body = await read_body()
        return await services.cpu_workers.run(plan_json, body, patient, services.settings.max_upload_bytes)
