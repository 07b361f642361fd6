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
///      encrypted record off chain).
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

    /// @notice The factory whose registry and registrar role govern billing.
    HealthRecordFactory public immutable factory;

    /// @dev The factory's vault implementation, cached to compute vault addresses without a call.
    address private immutable _vaultImplementation;

    /// @dev The factory's registrar role id, cached.
    bytes32 private immutable _registrarRole;

    /// @notice Number of bills issued; bill ids run from 1 to `billCount` (0 is never an id).
    uint256 public billCount;

    mapping(uint256 billId => Bill) private _bills;

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
    /// @param patient The patient who owes the bill (the only account that pays it).
    /// @param payee Receives the payment: the caller itself or an approved clinic.
    /// @param token The ERC-20 token to pay in, or address(0) for ETH.
    /// @param amount The amount due, in the token's smallest unit (wei for ETH); below 2^96.
    /// @param dueDate Unix time the payment is due (informational: later payments are still accepted).
    /// @param recordId The bill record's id in the patient's vault; below 2^48.
    /// @return billId The new bill's id.
    function issueBill(address patient, address payee, address token, uint256 amount, uint256 dueDate, uint256 recordId)
        external
        returns (uint256 billId)
    {
        if (patient == address(0) || payee == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (dueDate < block.timestamp) revert DueDateInPast(dueDate);
        if (payee != msg.sender && !isApprovedClinic[payee]) revert InvalidPayee(payee);
        if (!_mayWrite(patient, msg.sender) && !isApprovedClinic[msg.sender]) {
            revert NotAuthorisedIssuer(msg.sender, patient);
        }
        billId = ++billCount;
        _bills[billId] = Bill({
            patient: patient,
            dueDate: SafeCast.toUint40(dueDate),
            recordId: SafeCast.toUint48(recordId),
            status: BillStatus.Open,
            payee: payee,
            amount: SafeCast.toUint96(amount),
            token: token,
            refunded: 0,
            issuer: msg.sender,
            paid: 0
        });
        emit BillIssued(billId, patient, payee, msg.sender, token, amount, dueDate, recordId);
    }

    /// @notice Withdraw an unpaid bill. Its issuer only.
    /// @param billId The bill.
    function cancelBill(uint256 billId) external {
        Bill storage bill = _bills[billId];
        if (bill.status != BillStatus.Open) revert BillNotOpen(billId, bill.status);
        if (bill.issuer != msg.sender) revert NotIssuer(msg.sender);
        if (bill.paid != 0) revert BillPartlyPaid(billId, bill.paid);
        bill.status = BillStatus.Cancelled;
        emit BillCancelled(billId);
    }

    // ------------------------------------------------------------------ paying

    /// @notice Pay an ETH bill with `msg.value` (all that remains due, or part of it); the ETH goes
    ///         straight to the payee. The patient only.
    /// @param billId The bill.
    function payBill(uint256 billId) external payable nonReentrant {
        Bill storage bill = _bills[billId];
        if (bill.token != address(0)) revert WrongPaymentMethod(billId);
        address payee = _recordPayment(bill, billId, msg.sender, msg.value);
        Address.sendValue(payable(payee), msg.value);
    }

    /// @notice Pay `amount` of a token bill from the caller's balance (needs an allowance to this
    ///         contract); the tokens go straight to the payee. The patient only.
    /// @param billId The bill.
    /// @param amount The amount paid now (at most what remains due).
    function payBill(uint256 billId, uint256 amount) external nonReentrant {
        Bill storage bill = _bills[billId];
        address token = bill.token;
        if (token == address(0)) revert WrongPaymentMethod(billId);
        address payee = _recordPayment(bill, billId, msg.sender, amount);
        IERC20(token).safeTransferFrom(msg.sender, payee, amount);
    }

    /// @notice Pay `amount` of a token bill for `payer`, who holds no ETH: anyone (a relayer) submits the
    ///         payer's EIP-2612 permit for this contract and their EIP-712 `PayBill` consent. Exactly
    ///         `amount` moves from the payer to the payee; the consent's nonce is spent, so it works once.
    /// @dev If the permit was already used (e.g. front-run by someone who saw it in the mempool), the
    ///      payment still goes through on the allowance it created (OpenZeppelin's advice for permits).
    /// @param billId The bill.
    /// @param amount The amount paid (at most what remains due).
    /// @param deadline Last timestamp at which both the permit and the `PayBill` signature are accepted.
    /// @param v The permit signature's v.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    /// @param payer The patient paying (signer of both).
    /// @param signature The payer's signature over `PayBill(billId, amount, nonces(payer), deadline)`.
    function payBillWithPermit(
        uint256 billId,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s,
        address payer,
        bytes calldata signature
    ) external nonReentrant {
        _usePayBillSignature(billId, amount, deadline, payer, signature);
        Bill storage bill = _bills[billId];
        address token = bill.token;
        if (token == address(0)) revert WrongPaymentMethod(billId);
        address payee = _recordPayment(bill, billId, payer, amount);
        try IERC20Permit(token).permit(payer, address(this), amount, deadline, v, r, s) {} catch {}
        IERC20(token).safeTransferFrom(payer, payee, amount);
    }

    /// @notice Spend the caller's current `PayBill` nonce without paying: a `PayBill` signature made with
    ///         it (signed but not yet relayed) can no longer be used.
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
    /// @param billId The bill.
    /// @param amount The amount returned (at most `paid - refunded`).
    function refund(uint256 billId, uint256 amount) external payable nonReentrant {
        Bill storage bill = _bills[billId];
        if (bill.status == BillStatus.None) revert BillNotOpen(billId, BillStatus.None);
        if (bill.payee != msg.sender) revert NotPayee(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 refundable = uint256(bill.paid) - bill.refunded;
        if (amount > refundable) revert RefundExceedsPaid(amount, refundable);
        bill.refunded += uint96(amount); // <= paid, which fits in uint96
        emit BillRefunded(billId, amount);
        address token = bill.token;
        if (token == address(0)) {
            if (msg.value != amount) revert WrongValue(msg.value, amount);
            Address.sendValue(payable(bill.patient), amount);
        } else {
            if (msg.value != 0) revert WrongPaymentMethod(billId);
            IERC20(token).safeTransferFrom(msg.sender, bill.patient, amount);
        }
    }

    // ------------------------------------------------------------------ reads

    /// @notice Bill `billId` (all fields zero and status `None` for an id never issued).
    /// @param billId The bill.
    /// @return The bill.
    function bills(uint256 billId) external view returns (Bill memory) {
        return _bills[billId];
    }

    /// @notice What remains to be paid on bill `billId` (0 once paid or cancelled).
    /// @param billId The bill.
    /// @return The amount still due.
    function amountDue(uint256 billId) external view returns (uint256) {
        Bill storage bill = _bills[billId];
        return bill.status == BillStatus.Open ? uint256(bill.amount) - bill.paid : 0;
    }

    // ------------------------------------------------------------------ internals

    modifier onlyRegistrar() {
        if (!factory.hasRole(_registrarRole, msg.sender)) revert NotRegistrar(msg.sender);
        _;
    }

    /// @dev Checks the payer and the amount, books the payment (effects before the caller's transfer)
    ///      and returns the payee.
    function _recordPayment(Bill storage bill, uint256 billId, address payer, uint256 amount)
        private
        returns (address payee)
    {
        if (bill.status != BillStatus.Open) revert BillNotOpen(billId, bill.status);
        if (bill.patient != payer) revert NotPayer(payer);
        if (amount == 0) revert ZeroAmount();
        uint256 remaining = uint256(bill.amount) - bill.paid;
        if (amount > remaining) revert AmountExceedsDue(amount, remaining);
        bool partialPayment = amount < remaining;
        bill.paid += uint96(amount); // <= amount due, which fits in uint96
        if (!partialPayment) bill.status = BillStatus.Paid;
        emit BillPaid(billId, payer, amount, partialPayment);
        return bill.payee;
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

    /// @dev Whether `doctor` holds a live write grant in `patient`'s vault (false when it has none yet).
    function _mayWrite(address patient, address doctor) private view returns (bool) {
        address vault = Clones.predictDeterministicAddressWithImmutableArgs(
            _vaultImplementation, abi.encodePacked(patient), bytes32(uint256(uint160(patient))), address(factory)
        );
        if (vault.code.length == 0) return false;
        return IWriteGrantView(vault).canWrite(doctor);
    }
}
