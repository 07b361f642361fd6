"""Fixtures for the contract tests (run with `ape test tests/contracts` on Anvil via ape-foundry).

Roles (ape's test accounts are Anvil's dev accounts, from the mnemonic "test test ... junk"):
accounts[0] deploys the session factory (admin + registrar, no admin delay), accounts[1] is the patient, accounts[2] and
accounts[3] are registered doctors, accounts[4] is a relayer/stranger, accounts[5] a second patient,
accounts[6] an address that is not a doctor.
"""

from __future__ import annotations

import functools

import ape_test.accounts
import pytest
from eth_utils import keccak

from .helpers import rpc, succeeded, transact_fast, wait_for_receipt

# Speed: on every revert ape prints an enriched call trace, and the enrichment asks "is this address
# a test account?", which re-derives all ten HD keys in pure Python (~0.1 s per revert). The derived
# accounts never change, so memoise the derivation for this test session.
ape_test.accounts.generate_dev_accounts = functools.lru_cache(maxsize=None)(
    ape_test.accounts.generate_dev_accounts
)

HASH_A = bytes.fromhex("11" * 32)
HASH_B = bytes.fromhex("22" * 32)
HASH_C = bytes.fromhex("33" * 32)
DAY = 24 * 3600


#: The role each of ape's test accounts plays (see the module docstring); one session fixture each.
ROLES = {"deployer": 0, "patient": 1, "doctor": 2, "doctor2": 3, "relayer": 4, "patient2": 5, "stranger": 6}


def _role_fixture(name: str, index: int):
    @pytest.fixture(scope="session", name=name)
    def role(accounts):
        return accounts[index]

    return role


for _name, _index in ROLES.items():
    globals()[_name] = _role_fixture(_name, _index)


@pytest.fixture(scope="session")
def factory(project, deployer, doctor, doctor2):
    # No admin delay on the test chain; the deployer is both admin and registrar here (the
    # separation and the delay are tested on factories of their own in test_factory.py).
    factory = deployer.deploy(project.HealthRecordFactory, 0, deployer, deployer)
    factory.registerDoctor(doctor, sender=deployer)
    factory.registerDoctor(doctor2, sender=deployer)
    return factory


@pytest.fixture(scope="session")
def implementation(project, factory):
    return project.HealthRecord.at(factory.implementation())


@pytest.fixture
def vault(project, factory, patient, relayer):
    """The patient's clone, created by a relayer (anyone may create; the patient owns it)."""
    transact_fast(factory, "createVault", patient, sender=relayer)
    return project.HealthRecord.at(factory.predictVaultAddress(patient))


@pytest.fixture
def seeded(vault, patient):
    """The patient's clone holding three records: ids 0 (prescription), 1 (bill), 2 (report)."""
    transact_fast(vault, "addPrescription", HASH_A, sender=patient)
    transact_fast(vault, "addBill", HASH_B, sender=patient)
    transact_fast(vault, "addReport", HASH_C, sender=patient)
    assert vault.recordCount() == 3
    return vault


@pytest.fixture(scope="session")
def chain_id(chain):
    return chain.chain_id


N_MANY = 300


@pytest.fixture(scope="module")
def many(factory, project, patient2, relayer):
    """A second patient's clone with 300 records (ids span two bitmap words), added via raw
    transactions for speed (Anvil signs for its unlocked dev accounts)."""
    factory.createVault(patient2, sender=relayer)
    vault = project.HealthRecord.at(factory.vaultOf(patient2))
    selector = keccak(text="addReport(bytes32)")[:4]
    tx_hash = None
    for i in range(N_MANY):
        data = "0x" + (selector + (i + 1).to_bytes(32, "big")).hex()
        tx = {"from": patient2.address, "to": vault.address, "data": data, "gas": hex(200_000)}
        tx_hash = rpc("eth_sendTransaction", [tx])
    assert succeeded(wait_for_receipt(tx_hash))
    assert vault.recordCount() == N_MANY
    return vault
