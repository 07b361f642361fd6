// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IHealthRecord
/// @notice The events and custom errors of {HealthRecord}, one patient's vault: what an
///         indexer listens to and what a client decodes from a revert. Every error below is raised
///         only by HealthRecord (the factory's errors live in {HealthRecordFactory}); each one says
///         which calls raise it.
interface IHealthRecord {
    /// @notice The kinds of record a patient can hold.
    enum RecordKind {
        Prescription,
        Bill,
        Report
    }

    // ------------------------------------------------------------------ events

    /// @notice A record was added. `author` is the patient, or the doctor who wrote it under a write grant
    ///         (directly or through a signature).
    event RecordAdded(uint256 indexed recordId, RecordKind indexed kind, address indexed author, bytes32 contentHash);

    /// @notice A registered doctor asked the patient for access.
    event AccessRequested(address indexed doctor);

    /// @notice The patient granted `doctor` read access to `recordIds` until `expiresAt`, replacing any earlier grant.
    event AccessApproved(address indexed doctor, uint64 expiresAt, uint256[] recordIds);

    /// @notice The patient granted `doctor` read access until `expiresAt`, replacing any earlier grant, to
    ///         the records whose bits are set: bit `i` of `words[j]` is record `(startWord + j) * 256 + i`.
    event RecordsApproved(address indexed doctor, uint64 expiresAt, uint256 startWord, uint256[] words);

    /// @notice The patient let `doctor` add records to this vault until `expiresAt`, replacing any earlier write grant.
    event WriteApproved(address indexed doctor, uint64 expiresAt);

    /// @notice The patient withdrew the doctor's write grant.
    event WriteRevoked(address indexed doctor);

    /// @notice `account` consumed its nonce `nonce` without acting: every signature carrying that nonce
    ///         (signed but not yet relayed) can no longer be used.
    event NonceInvalidated(address indexed account, uint256 nonce);

    /// @notice The patient turned down the doctor's pending request.
    event AccessDenied(address indexed doctor);

    /// @notice The patient withdrew the doctor's whole grant.
    event AccessRevoked(address indexed doctor);

    /// @notice The patient withdrew some records from the doctor's grant.
    event RecordsRevoked(address indexed doctor, uint256[] recordIds);

    /// @notice A doctor with a live grant asked for `extra` more seconds.
    event ExtensionRequested(address indexed doctor, uint64 extra);

    /// @notice The patient accepted the extension; the grant now ends at `expiresAt`.
    event ExtensionApproved(address indexed doctor, uint64 expiresAt);

    // ------------------------------------------------------------------ errors

    /// @notice The call reached the implementation behind the clones, which has no patient.
    /// @dev Raised by every function that needs a patient or records a doctor's request, when called
    ///      on the implementation itself rather than on a patient's clone.
    error ImplementationNotUsable();

    /// @notice `caller` is not the patient who owns this contract.
    /// @dev Raised by the patient-only functions (`addRecord`, `approveAccess`, `denyAccess`, ...)
    ///      when sent directly by anyone else; their `...BySig` variants check a signature instead.
    error NotPatient(address caller);

    /// @notice `account` is not a registered doctor in the factory's registry.
    /// @dev Raised when a doctor requests access or an extension or adds a record, and when the patient
    ///      approves access, write access or an extension for a doctor who is (no longer) registered.
    error NotRegisteredDoctor(address account);

    /// @notice `doctor` has no live write grant in this vault (never granted, expired, revoked, or
    ///         approved before the doctor was last unregistered).
    /// @dev Raised by `addRecordAsDoctor`, `revokeWrite` and their `...BySig` variants.
    error NoWriteGrant(address doctor);

    /// @notice The `ApproveExtension` signature was made for grant `signed`, but the doctor's grant is now `current`.
    /// @dev Raised by `approveExtensionBySig`: a signature cannot extend a later, different grant.
    error GrantChanged(uint32 current, uint32 signed);

    /// @notice `kind` is not a {RecordKind}.
    /// @dev Raised by `addRecord` and `addRecordBySig`.
    error InvalidRecordKind(uint8 kind);

    /// @notice A record's content hash was zero.
    /// @dev Raised by every way of adding a record.
    error EmptyContentHash();

    /// @notice No record has id `recordId` (ids run from 0 to `recordCount() - 1`).
    /// @dev Raised by `getRecord`, and by approvals and revocations that name such an id (for
    ///      `approveRecords`, the lowest set bit at or beyond `recordCount()`).
    error UnknownRecord(uint256 recordId);

    /// @notice An approval or a revocation of records named no record.
    /// @dev Raised by `approveAccess`, `approveRecords`, `revokeRecords` and their `...BySig` variants.
    error NoRecordsSelected();

    /// @notice A duration or an extension of zero seconds.
    /// @dev Raised by `approveAccess`, `approveRecords`, `approveWrite`, `requestExtension`,
    ///      `approveExtension` and their `...BySig` variants.
    error ZeroDuration();

    /// @notice The grant would end after the largest uint64 timestamp.
    /// @dev Raised by `approveAccess`, `approveRecords`, `approveWrite` and `approveExtension` (and
    ///      their `...BySig` variants).
    error DurationTooLong(uint256 duration);

    /// @notice `doctor` has no request awaiting the patient's answer.
    /// @dev Raised by `denyAccess` and `denyAccessBySig`.
    error NoPendingRequest(address doctor);

    /// @notice `doctor` has no live read grant (never granted, expired, revoked, or approved before the
    ///         doctor was last unregistered; `revokeAccess` and `revokeRecords` only check expiry).
    /// @dev Raised by `revokeAccess`, `revokeRecords`, `requestExtension`, `approveExtension` and their
    ///      `...BySig` variants.
    error NoActiveGrant(address doctor);

    /// @notice `doctor` has not asked for an extension.
    /// @dev Raised by `approveExtension` and `approveExtensionBySig`.
    error NoPendingExtension(address doctor);

    /// @notice The extension the patient agreed to (`signed`) differs from the pending request (`pending`).
    /// @dev Raised by `approveExtension` and `approveExtensionBySig`: the doctor changed the request.
    error ExtensionMismatch(uint64 pending, uint64 signed);

    /// @notice The signature's `deadline` has passed.
    /// @dev Raised by every `...BySig` function.
    error SignatureExpired(uint256 deadline);

    /// @notice The signature is not the expected signer's over this action (EOA or ERC-1271 wallet).
    /// @dev Raised by every `...BySig` function; a wrong nonce is OpenZeppelin's `InvalidAccountNonce`.
    error InvalidSignature();
}
