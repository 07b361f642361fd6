"""Data written before "record contract" became "vault" keeps working: old MongoDB documents and old
`.env` names are still read."""

from __future__ import annotations

from healthledger.db.records import RecordDoc
from healthledger.settings import Settings

OLD_DOCUMENT = {
    "patient": "0x" + "aa" * 20, "record_type": "report", "name": "scan.pdf", "content_type": "application/pdf",
    "cid": "bafy", "content_hash": "0x" + "11" * 32, "ciphertext_hash": "0x" + "22" * 32, "size": 1,
    "ciphertext_size": 1, "wrapped_key": "x", "record_contract": "0x" + "bb" * 20,
}


def test_a_document_written_before_the_rename_is_read() -> None:
    record = RecordDoc.from_mongo(OLD_DOCUMENT)
    assert record.vault_address == "0x" + "bb" * 20
    assert record.to_mongo()["vault_address"] == "0x" + "bb" * 20 and "record_contract" not in record.to_mongo()


def test_the_new_name_wins_over_the_old_one() -> None:
    record = RecordDoc.from_mongo({**OLD_DOCUMENT, "vault_address": "0x" + "cc" * 20})
    assert record.vault_address == "0x" + "cc" * 20


def test_old_rate_limit_setting_names_are_read(monkeypatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_NEW_RECORD_CONTRACT_PER_IP", "3/hour")
    monkeypatch.setenv("RATE_LIMIT_NEW_VAULT_GLOBAL", "7/day")
    settings = Settings(_env_file=None)
    assert settings.rate_limit_new_vault_per_ip == "3/hour"
    assert settings.rate_limit_new_vault_global == "7/day"
    assert settings.rate_limit_new_vault_per_address == "20/day"  # the default
    assert Settings(_env_file=None, rate_limit_new_vault_per_address="1/day").rate_limit_new_vault_per_address == "1/day"
