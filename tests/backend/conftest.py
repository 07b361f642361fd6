"""Fixtures for the backend tests: real Anvil, js-ipfs, SecantusDB and the API over HTTP.

Imported rather than listed in `pytest_plugins`, so that `pytest tests` works too (pytest refuses
`pytest_plugins` in a non-root conftest).
"""

from tests.backend.fixtures.api import api_server, api_settings, client, other_api_server  # noqa: F401
from tests.backend.fixtures.api_process import api_process_launcher, start_api_process  # noqa: F401
from tests.backend.fixtures.chain import (  # noqa: F401
    add_record,
    anvil,
    chain_client,
    chain_snapshot,
    deadline,
    deployer_account,
    deployment,
    dev_accounts,
    doctor,
    doctor_and_patient,
    mint_tusd,
    new_account,
    patient,
    registrar_relayer,
    relayer,
    relayer_account,
    sign,
)
from tests.backend.fixtures.ipfs import ipfs_client, ipfs_node  # noqa: F401
from tests.backend.fixtures.mongo import mongo_server  # noqa: F401
from tests.backend.fixtures.private_chain import private_stack  # noqa: F401
from tests.backend.fixtures.wallets import (  # noqa: F401
    db,
    doctor_wallet,
    keyed_patient,
    patient_wallet,
    records_collection,
    registrar_wallet,
    writer,
)
