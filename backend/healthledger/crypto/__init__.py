"""HealthLedger's encryption layer.

* `kek`: the patient's key-encryption key, derived from their wallet's signature of a fixed message.
* `envelope`: the streamed AES-256-CBC + HMAC-SHA256 (encrypt-then-MAC) container for file contents.
* `keywrap`: AES-256-GCM key wrapping: v1 records' data keys under the KEK, and salts under the data key.
* `hashing`: streaming SHA-256 as `0x` hex and `bytes32`.
* `account_keys`: every account's X25519 key pair from its wallet's signature, and sealed boxes to it.
* `key_binding`: the account's EIP-712 signature binding its public key to its address.
* `sealed_keys`: a record's data key sealed to one reader's public key (the only stored form in v2).
* `salt`: the salted content commitment SHA-256(salt ‖ file) and the salt sealed under the data key.

Import from here; the submodules are an implementation detail. Whole-stream and in-memory wrappers
that only tests used live in tests/backend/support/crypto.py.
"""

# Accounts' key pairs (keys v2) and their sealed boxes.
from .account_keys import (
    ACCOUNT_KEY_MESSAGE,
    account_key_signature_signer,
    check_public_key,
    derive_account_keypair,
    is_account_key_signature_by,
    open_sealed,
    public_key_bytes,
    seal_to,
)

# The container's format: its constants, its sizes and its header.
from .envelope import (
    DATA_KEY_SIZE,
    HEADER,
    HEADER_SIZE,
    MAC_SIZE,
    MIN_CONTAINER_SIZE,
    PREFIX_SIZE,
    ContainerHeader,
    container_size,
    overhead,
    parse_header,
    plaintext_size_range,
)

# Streaming through it: a fresh data key, encrypting, authenticating, then decrypting.
from .envelope import Decryptor, Encryptor, MacVerifier, decrypt_stream, new_data_key
from .errors import (
    CryptoError,
    IntegrityError,
    InvalidKeyMaterial,
    MalformedData,
    PaddingError,
    StateError,
    UnsupportedVersion,
)
from .hashing import (
    Sha256Stream,
    asha256_stream,
    sha256_stream,
)
from .kek import (
    KEY_DERIVATION_MESSAGE,
    address_bytes,
    canonical_signature,
    derive_kek,
    is_key_signature_by,
    key_signature_signer,
)
from .key_binding import binding_signer, binding_typed_data, canonical_binding_signature, is_binding_by
from .keywrap import unwrap_key, wrap_key
from .sealed_keys import open_data_key, reader_aad, seal_data_key
from .salt import (
    SALT_SIZE,
    commitment_stream,
    content_commitment,
    open_salt,
    parse_salt,
    salt_aad,
    salt_hex,
    seal_salt,
)

__all__ = [
    "ACCOUNT_KEY_MESSAGE",
    "DATA_KEY_SIZE",
    "HEADER",
    "HEADER_SIZE",
    "KEY_DERIVATION_MESSAGE",
    "MAC_SIZE",
    "MIN_CONTAINER_SIZE",
    "PREFIX_SIZE",
    "SALT_SIZE",
    "ContainerHeader",
    "CryptoError",
    "Decryptor",
    "Encryptor",
    "IntegrityError",
    "InvalidKeyMaterial",
    "MacVerifier",
    "MalformedData",
    "PaddingError",
    "Sha256Stream",
    "StateError",
    "UnsupportedVersion",
    "account_key_signature_signer",
    "address_bytes",
    "asha256_stream",
    "binding_signer",
    "binding_typed_data",
    "canonical_binding_signature",
    "canonical_signature",
    "check_public_key",
    "commitment_stream",
    "container_size",
    "content_commitment",
    "decrypt_stream",
    "derive_account_keypair",
    "derive_kek",
    "is_account_key_signature_by",
    "is_binding_by",
    "is_key_signature_by",
    "key_signature_signer",
    "new_data_key",
    "open_data_key",
    "open_sealed",
    "open_salt",
    "overhead",
    "parse_header",
    "parse_salt",
    "plaintext_size_range",
    "public_key_bytes",
    "reader_aad",
    "seal_data_key",
    "seal_to",
    "salt_aad",
    "salt_hex",
    "seal_salt",
    "sha256_stream",
    "unwrap_key",
    "wrap_key",
]
