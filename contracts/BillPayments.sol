// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {HealthRecordFactory} from "./HealthRecordFactory.sol";
import {IBillPayments} from "./interfaces/IBillPayments.sol";

/// @dev The one view of a patient's vault that billing needs.
interface IWriteGrantView {
    function canWrite(address doctor) external view returns (bool allowed);
}

/// @title BillPayments
/// @notice Payment requests ("bills") from doctors and clinics to patients, paid in ETH or an ERC-20
///         token (gaslessly through an EIP-2612 permit and a relayer). One per deployment, bound to one
///         {HealthRecordFactory}: the factory's registry and registrar role decide who may bill.
/// @dev Kept out of the per-patient {HealthRecord} clones so they stay lean. On chain: patient, payee,
///      issuer, token, amount, due date and the bill record's id; nothing else (the invoice itself is an
///      encrypted record off chain). Those terms are only emitted (`BillIssued`) and hashed into the
///      bill's id; storage holds one slot per bill (paid, refunded, status) and every later call passes
///      the terms back ({IBillPayments.BillTerms}): that keeps `issueBill` within its gas budget.
///
///      Money is pushed, never held: every payment goes from the payer straight to the payee in the same
///      transaction (ETH is forwarded, tokens are moved payer -> payee by `transferFrom`), and every
///      refund straight from the payee to the patient. The contract's balance is therefore always zero
///      and nothing can get stuck here; the price is that a payee who cannot receive ETH cannot be paid
///      in ETH, which only hurts that payee (it chose its address).
///
///      Who may issue: a doctor holding a live write grant in the patient's vault (which also means the
///      registry lists them under the grant's registration: {HealthRecord.canWrite}), read from the
///      vault at its CREATE2 address, computed here without calling the factory; or a clinic a factory
///      registrar approved. The payee is the issuer itself or an approved clinic.
contract BillPayments is IBillPayments, EIP712, Nonces, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type of the patient's consent to one token payment relayed by someone else.
    bytes32 public constant PAY_BILL_TYPEHASH =
        keccak256("PayBill(uint256 billId,uint256 amount,uint256 nonce,uint256 deadline)");

    /// @notice EIP-712 type of an issuer's (doctor's or clinic's) bill, relayed by someone else so the
    ///         issuer needs no ETH ({issueBillBySig}).
    bytes32 public constant ISSUE_BILL_TYPEHASH = keccak256(
        "IssueBill(address patient,address payee,address token,uint256 amount,uint256 dueDate,uint256 recordId,address issuer,uint256 nonce,uint256 deadline)"
    );

    /// @notice EIP-712 type of an issuer's withdrawal of its unpaid bill, relayed ({cancelBillBySig}).
    bytes32 public constant CANCEL_BILL_TYPEHASH =
        keccak256("CancelBill(uint256 billId,address issuer,uint256 nonce,uint256 deadline)");

    /// @notice The factory whose registry and registrar role govern billing.
    HealthRecordFactory public immutable factory;

    /// @dev The factory's vault implementation, cached to compute vault addresses without a call.
    address private immutable _vaultImplementation;

    /// @dev The factory's registrar role id, cached.
    bytes32 private immutable _registrarRole;

    /// @notice Number of bills issued; each bill's `nonce` term is the count before it (0, 1, ...).
    uint256 public billCount;

    /// @dev The only per-bill storage: one slot. The terms are hashed into the id, not stored.
    mapping(uint256 billId => BillState) private _states;

    /// @notice Whether a registrar approved `clinic` to issue bills and be paid.
    mapping(address clinic => bool) public isApprovedClinic;

    /// @param factory_ The deployment's {HealthRecordFactory}.
    constructor(HealthRecordFactory factory_) EIP712("BillPayments", "1") {
        if (address(factory_) == address(0)) revert ZeroAddress();
        factory = factory_;
        _vaultImplementation = factory_.implementation();
        _registrarRole = factory_.REGISTRAR_ROLE();
    }

    /// @notice The EIP-712 domain separator (`PayBill` signatures are made over it).
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ clinics

    /// @notice Let `clinic` issue bills and receive payments. Factory registrars only.
    /// @param clinic The clinic's address.
    function approveClinic(address clinic) external onlyRegistrar {
        if (clinic == address(0)) revert ZeroAddress();
        if (isApprovedClinic[clinic]) revert ClinicStatusUnchanged(clinic, true);
        isApprovedClinic[clinic] = true;
        emit ClinicApproved(clinic, msg.sender);
    }

    /// @notice Withdraw `clinic`'s approval; bills already issued to it stay payable. Registrars only.
    /// @param clinic The clinic's address.
    function revokeClinic(address clinic) external onlyRegistrar {
        if (!isApprovedClinic[clinic]) revert ClinicStatusUnchanged(clinic, false);
        isApprovedClinic[clinic] = false;
        emit ClinicRevoked(clinic, msg.sender);
    }

    // ------------------------------------------------------------------ issuing

    /// @notice Ask `patient` to pay `amount` of `token` to `payee` by `dueDate` for bill record `recordId`.
    /// @dev Stores one slot (the state) and emits the terms; later calls pass them back ({BillTerms}).
    /// @param patient The patient who owes the bill (the only account that pays it).
    /// @param payee Receives the payment: the caller itself or an approved clinic.
    /// @param token The ERC-20 token to pay in, or address(0) for ETH.
    /// @param amount The amount due, in the token's smallest unit (wei for ETH); below 2^96.
    /// @param dueDate Unix time the payment is due (informational: later payments are still accepted).
    /// @param recordId The bill record's id in the patient's vault.
    /// @return billId The new bill's id, `billIdOf` of its terms (as emitted in `BillIssued`).
    function issueBill(address patient, address payee, address token, uint256 amount, uint256 dueDate, uint256 recordId)
        external
        returns (uint256 billId)
    {
        return _issueBill(patient, payee, token, amount, dueDate, recordId, msg.sender);
    }

    /// @notice `issueBill` for `issuer`, who holds no ETH: anyone (a relayer) submits the issuer's EIP-712
    ///         `IssueBill` signature. Same checks and effects as `issueBill`, with `issuer` in place of the
    ///         caller; the signature's nonce is spent, so it works once.
    /// @dev One nonce space per account, shared with `PayBill`: `invalidateNonce` cancels an unsent
    ///      `IssueBill` signature too. The nonce is passed explicitly (`_useCheckedNonce`), so a stale or
    ///      replayed signature fails with `InvalidAccountNonce` rather than a bare `InvalidSignature`.
    /// @param patient The patient who owes the bill.
    /// @param payee Receives the payment: `issuer` itself or an approved clinic.
    /// @param token The ERC-20 token to pay in, or address(0) for ETH.
    /// @param amount The amount due, in the token's smallest unit; below 2^96.
    /// @param dueDate Unix time the payment is due.
    /// @param recordId The bill record's id in the patient's vault.
    /// @param issuer The doctor or clinic issuing the bill (the signer).
    /// @param nonce `nonces(issuer)` at signing.
    /// @param deadline Last timestamp at which the signature is accepted.
    /// @param signature The issuer's signature (EOA or ERC-1271) over the `IssueBill` struct.
    /// @return billId The new bill's id (as emitted in `BillIssued`).
    function issueBillBySig(
        address patient,
        address payee,
        address token,
        uint256 amount,
        uint256 dueDate,
        uint256 recordId,
        address issuer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 billId) {
        // The struct hash is keccak256(typehash ++ the nine ABI-encoded fields), and those fields are
        // exactly this call's first nine static head words, in the same order: hash them straight from
        // calldata. Why not abi.encode(...) of the parameters: ten values overflow the legacy code
        // generator's stack ("stack too deep"), and via-IR would change every contract's bytecode. The
        // words are clean: the ABI decoder has already reverted on a malformed address or a short call.
        _useSignature(issuer, nonce, deadline, keccak256(bytes.concat(ISSUE_BILL_TYPEHASH, msg.data[4:292])), signature);
        return _issueBill(patient, payee, token, amount, dueDate, recordId, issuer);
    }

    /// @notice Withdraw an unpaid bill. Its issuer only.
    /// @param terms The bill's terms (from `BillIssued`).
    function cancelBill(BillTerms calldata terms) external {
        _cancelBill(billIdOf(terms), terms.issuer, msg.sender);
    }

    /// @notice `cancelBill` for the bill's issuer, who holds no ETH: anyone (a relayer) submits the
    ///         issuer's EIP-712 `CancelBill` signature over the bill's id. Same checks and effects as
    ///         `cancelBill`, the signer being `terms.issuer`; the nonce is spent, so it works once.
    /// @param terms The bill's terms (from `BillIssued`).
    /// @param nonce `nonces(terms.issuer)` at signing.
    /// @param deadline Last timestamp at which the signature is accepted.
    /// @param signature The issuer's signature (EOA or ERC-1271) over the `CancelBill` struct.
    function cancelBillBySig(BillTerms calldata terms, uint256 nonce, uint256 deadline, bytes calldata signature)
        external
    {
        uint256 billId = billIdOf(terms);
        address issuer = terms.issuer;
        _useSignature(
            issuer, nonce, deadline, keccak256(abi.encode(CANCEL_BILL_TYPEHASH, billId, issuer, nonce, deadline)), signature
        );
        _cancelBill(billId, issuer, issuer);
    }

    // ------------------------------------------------------------------ paying

    /// @notice Pay an ETH bill with `msg.value` (all that remains due, or part of it); the ETH goes
    ///         straight to the payee. The patient only.
    /// @param terms The bill's terms (from `BillIssued`).
    function payBill(BillTerms calldata terms) external payable nonReentrant {
        uint256 billId = billIdOf(terms);
        if (terms.token != address(0)) revert WrongPaymentMethod(billId);
        _recordPayment(terms, billId, msg.sender, msg.value);
        Address.sendValue(payable(terms.payee), msg.value);
    }

    /// @notice Pay `amount` of a token bill from the caller's balance (needs an allowance to this
    ///         contract); the tokens go straight to the payee. The patient only.
    /// @param terms The bill's terms (from `BillIssued`).
    /// @param amount The amount paid now (at most what remains due).
    function payBill(BillTerms calldata terms, uint256 amount) external nonReentrant {
        uint256 billId = billIdOf(terms);
        address token = terms.token;
        if (token == address(0)) revert WrongPaymentMethod(billId);
        _recordPayment(terms, billId, msg.sender, amount);
        IERC20(token).safeTransferFrom(msg.sender, terms.payee, amount);
    }

    /// @notice Pay `amount` of a token bill for `payer`, who holds no ETH: anyone (a relayer) submits the
    ///         payer's EIP-2612 permit for this contract and their EIP-712 `PayBill` consent (over the
    ///         bill's id). Exactly `amount` moves from the payer to the payee; the consent's nonce is
    ///         spent, so it works once.
    /// @dev If the permit was already used (e.g. front-run by someone who saw it in the mempool), the
    ///      payment still goes through on the allowance it created (OpenZeppelin's advice for permits).
    /// @param terms The bill's terms (from `BillIssued`).
    /// @param amount The amount paid (at most what remains due).
    /// @param deadline Last timestamp at which both the permit and the `PayBill` signature are accepted.
    /// @param v The permit signature's v.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    /// @param payer The patient paying (signer of both).
    /// @param signature The payer's signature over `PayBill(billId, amount, nonces(payer), deadline)`.
    function payBillWithPermit(
        BillTerms calldata terms,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s,
        address payer,
        bytes calldata signature
    ) external nonReentrant {
        uint256 billId = billIdOf(terms);
        _usePayBillSignature(billId, amount, deadline, payer, signature);
        address token = terms.token;
        if (token == address(0)) revert WrongPaymentMethod(billId);
        _recordPayment(terms, billId, payer, amount);
        try IERC20Permit(token).permit(payer, address(this), amount, deadline, v, r, s) {} catch {}
        IERC20(token).safeTransferFrom(payer, terms.payee, amount);
    }

    /// @notice Spend the caller's current nonce without using it: a `PayBill`, `IssueBill` or `CancelBill`
    ///         signature made with it (signed but not yet relayed) can no longer be used.
    /// @return nonce The nonce that was consumed.
    function invalidateNonce() external returns (uint256 nonce) {
        nonce = _useNonce(msg.sender);
        emit NonceInvalidated(msg.sender, nonce);
    }

    // ------------------------------------------------------------------ refunds

    /// @notice Return `amount` of what was paid to the patient. The payee only. For an ETH bill send
    ///         exactly `amount` as `msg.value` (forwarded to the patient); for a token bill the payee
    ///         needs an allowance to this contract, and the tokens move payee -> patient.
    /// @dev A refund does not reopen the bill: `paid` keeps the gross amount, `refunded` grows.
    /// @param terms The bill's terms (from `BillIssued`).
    /// @param amount The amount returned (at most `paid - refunded`).
    function refund(BillTerms calldata terms, uint256 amount) external payable nonReentrant {
        uint256 billId = billIdOf(terms);
        BillState storage state = _states[billId];
        if (state.status == BillStatus.None) revert BillNotOpen(billId, BillStatus.None);
        if (terms.payee != msg.sender) revert NotPayee(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 refundable = uint256(state.paid) - state.refunded;
        if (amount > refundable) revert RefundExceedsPaid(amount, refundable);
        state.refunded += uint96(amount); // <= paid, which fits in uint96
        emit BillRefunded(billId, amount);
        address token = terms.token;
        if (token == address(0)) {
            if (msg.value != amount) revert WrongValue(msg.value, amount);
            Address.sendValue(payable(terms.patient), amount);
        } else {
            if (msg.value != 0) revert WrongPaymentMethod(billId);
            IERC20(token).safeTransferFrom(msg.sender, terms.patient, amount);
        }
    }

    // ------------------------------------------------------------------ reads

    /// @notice The id of the bill with these terms: `uint256(keccak256(abi.encode(terms)))`. Terms that
    ///         were never issued give an id whose `billState` is `None`.
    /// @param terms The bill's terms.
    /// @return The bill's id.
    function billIdOf(BillTerms calldata terms) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(terms)));
    }

    /// @notice Bill `billId`'s state (all zero, status `None`, for an id never issued). Its terms are in
    ///         its `BillIssued` event (they are not stored).
    /// @param billId The bill.
    /// @return The bill's paid and refunded amounts and status.
    function billState(uint256 billId) external view returns (BillState memory) {
        return _states[billId];
    }

    /// @notice What remains to be paid on the bill with these terms (0 once paid or cancelled, and for
    ///         terms never issued).
    /// @param terms The bill's terms.
    /// @return The amount still due.
    function amountDue(BillTerms calldata terms) external view returns (uint256) {
        BillState storage state = _states[billIdOf(terms)];
        return state.status == BillStatus.Open ? terms.amount - state.paid : 0;
    }

    // ------------------------------------------------------------------ internals

    modifier onlyRegistrar() {
        if (!factory.hasRole(_registrarRole, msg.sender)) revert NotRegistrar(msg.sender);
        _;
    }

    /// @dev Checks the payer and the amount and books the payment (effects before the caller's transfer).
    function _recordPayment(BillTerms calldata terms, uint256 billId, address payer, uint256 amount) private {
        BillState storage state = _states[billId];
        if (state.status != BillStatus.Open) revert BillNotOpen(billId, state.status);
        if (terms.patient != payer) revert NotPayer(payer);
        if (amount == 0) revert ZeroAmount();
        uint256 remaining = terms.amount - state.paid; // an issued amount is below 2^96
        if (amount > remaining) revert AmountExceedsDue(amount, remaining);
        bool partialPayment = amount < remaining;
        state.paid += uint96(amount); // <= amount due, which fits in uint96
        if (!partialPayment) state.status = BillStatus.Paid;
        emit BillPaid(billId, payer, amount, partialPayment);
    }

    /// @dev Checks the deadline, spends `payer`'s nonce (a replay fails here: the signature no longer
    ///      matches) and verifies the `PayBill` signature (EOA or ERC-1271 wallet).
    function _usePayBillSignature(
        uint256 billId,
        uint256 amount,
        uint256 deadline,
        address payer,
        bytes calldata signature
    ) private {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint256 nonce = _useNonce(payer);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(PAY_BILL_TYPEHASH, billId, amount, nonce, deadline)));
        if (!SignatureChecker.isValidSignatureNowCalldata(payer, digest, signature)) revert InvalidSignature();
    }

    /// @dev The checks and effects of `issueBill` and `issueBillBySig`, `issuer` being the caller or the
    ///      verified signer.
    function _issueBill(
        address patient,
        address payee,
        address token,
        uint256 amount,
        uint256 dueDate,
        uint256 recordId,
        address issuer
    ) private returns (uint256 billId) {
        if (patient == address(0) || payee == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        SafeCast.toUint96(amount); // `paid` and `refunded` are uint96
        if (dueDate < block.timestamp) revert DueDateInPast(dueDate);
        if (payee != issuer && !isApprovedClinic[payee]) revert InvalidPayee(payee);
        if (!_mayWrite(patient, issuer) && !isApprovedClinic[issuer]) {
            revert NotAuthorisedIssuer(issuer, patient);
        }
        uint256 nonce = billCount++;
        billId = uint256(keccak256(abi.encode(patient, payee, issuer, token, amount, dueDate, recordId, nonce)));
        _states[billId].status = BillStatus.Open; // a fresh id: nonce never repeats
        emit BillIssued(billId, patient, payee, issuer, token, amount, dueDate, recordId, nonce);
    }

    /// @dev The checks and effects of `cancelBill` and `cancelBillBySig`: `caller` (the sender or the
    ///      verified signer) must be the bill's `issuer`.
    function _cancelBill(uint256 billId, address issuer, address caller) private {
        BillState storage state = _states[billId];
        if (state.status != BillStatus.Open) revert BillNotOpen(billId, state.status);
        if (issuer != caller) revert NotIssuer(caller);
        if (state.paid != 0) revert BillPartlyPaid(billId, state.paid);
        state.status = BillStatus.Cancelled;
        emit BillCancelled(billId);
    }

    /// @dev For the issuer's signed actions: checks the deadline, spends `signer`'s nonce `nonce`
    ///      (`InvalidAccountNonce` when it is not the current one: a replay or a stale signature) and
    ///      verifies the signature over `structHash` (EOA or ERC-1271 wallet).
    function _useSignature(address signer, uint256 nonce, uint256 deadline, bytes32 structHash, bytes calldata signature)
        private
    {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        _useCheckedNonce(signer, nonce);
        if (!SignatureChecker.isValidSignatureNowCalldata(signer, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature();
        }
    }

    /// @dev Whether `doctor` holds a live write grant in `patient`'s vault (false when it has none yet).
    function _mayWrite(address patient, address doctor) private view returns (bool) {
        address vault = Clones.predictDeterministicAddressWithImmutableArgs(
            _vaultImplementation, abi.encodePacked(patient), bytes32(uint256(uint160(patient))), address(factory)
        );
        if (vault.code.length == 0) return false;
        return IWriteGrantView(vault).canWrite(doctor);
    }
}
