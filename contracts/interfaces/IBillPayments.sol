// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IBillPayments
/// @notice The events and custom errors of {BillPayments}: what an indexer listens to and what a client
///         decodes from a revert. Each error says which calls raise it.
interface IBillPayments {
    /// @notice Where a bill stands. `None` is an id that was never issued; a bill stays `Open` while
    ///         partly paid and becomes `Paid` when the whole amount has been paid.
    enum BillStatus {
        None,
        Open,
        Paid,
        Cancelled
    }

    /// @notice A bill's immutable terms. They are NOT stored: `issueBill` emits them in `BillIssued`,
    ///         the bill's id is `uint256(keccak256(abi.encode(terms)))` (see {BillPayments-billIdOf}),
    ///         and every call that acts on a bill takes the terms back as calldata and recomputes the
    ///         id. Terms that were never issued hash to an id whose state is `None`, so a caller cannot
    ///         make up or alter terms.
    /// @dev Why: storing the terms costs three new storage slots per bill (about 66,000 gas, which
    ///      alone breaks issue 17's 80,000 budget for `issueBill`); hashing them costs a few hundred
    ///      gas and calldata a few thousand. Clients read the terms from the `BillIssued` event (the
    ///      backend indexes it) and keep them with the bill. `nonce` is the contract's `billCount` at
    ///      issue, so two bills with otherwise equal terms get different ids. `token` is address(0)
    ///      for ETH; `amount` is below 2^96 (checked at issue).
    struct BillTerms {
        address patient;
        address payee;
        address issuer;
        address token;
        uint256 amount;
        uint256 dueDate;
        uint256 recordId;
        uint256 nonce;
    }

    /// @notice A bill's mutable state: the only thing stored per bill, in one slot keyed by its id.
    /// @dev `paid` is the gross amount received; refunds are counted in `refunded` and never reopen a
    ///      bill. `status` is `None` for an id never issued (issuing writes `Open`).
    struct BillState {
        uint96 paid;
        uint96 refunded;
        BillStatus status;
    }

    // ------------------------------------------------------------------ events

    /// @notice `issuer` asked `patient` to pay `amount` of `token` (address(0) = ETH) to `payee` by
    ///         `dueDate` for the bill record `recordId` in the patient's vault. The only place the
    ///         terms are published: these fields, in {BillTerms} order, are what later calls pass back.
    event BillIssued(
        uint256 indexed billId,
        address indexed patient,
        address indexed payee,
        address issuer,
        address token,
        uint256 amount,
        uint256 dueDate,
        uint256 recordId,
        uint256 nonce
    );

    /// @notice `payer` paid `amount` towards the bill; `partialPayment` is true while some of it is still due.
    event BillPaid(uint256 indexed billId, address indexed payer, uint256 amount, bool partialPayment);

    /// @notice The payee returned `amount` of what was paid to the patient.
    event BillRefunded(uint256 indexed billId, uint256 amount);

    /// @notice The issuer withdrew the unpaid bill.
    event BillCancelled(uint256 indexed billId);

    /// @notice A registrar let `clinic` issue bills and receive payments.
    event ClinicApproved(address indexed clinic, address indexed registrar);

    /// @notice A registrar withdrew `clinic`'s approval (its bills already issued stay payable).
    event ClinicRevoked(address indexed clinic, address indexed registrar);

    /// @notice `account` consumed its nonce `nonce` without using it: its unsent `PayBill`, `IssueBill` or
    ///         `CancelBill` signature with that nonce can no longer be used (one nonce space per account).
    event NonceInvalidated(address indexed account, uint256 nonce);

    // ------------------------------------------------------------------ errors

    /// @notice A zero address where an account is required.
    /// @dev Raised by the constructor, `issueBill`/`issueBillBySig` (patient or payee) and `approveClinic`.
    error ZeroAddress();

    /// @notice `caller` is not a registrar of the factory.
    /// @dev Raised by `approveClinic` and `revokeClinic`.
    error NotRegistrar(address caller);

    /// @notice `caller` may not bill `patient`: it neither holds a live write grant in the patient's
    ///         vault (which also requires being a registered doctor) nor is an approved clinic.
    /// @dev Raised by `issueBill` and `issueBillBySig` (`caller` being the signing issuer there).
    error NotAuthorisedIssuer(address caller, address patient);

    /// @notice `payee` is neither the issuer itself nor an approved clinic.
    /// @dev Raised by `issueBill` and `issueBillBySig`.
    error InvalidPayee(address payee);

    /// @notice An amount of zero.
    /// @dev Raised by `issueBill`, `issueBillBySig`, every way of paying, and `refund`.
    error ZeroAmount();

    /// @notice The due date is already in the past.
    /// @dev Raised by `issueBill` and `issueBillBySig`.
    error DueDateInPast(uint256 dueDate);

    /// @notice `clinic` is already approved, or (for `revokeClinic`) is not.
    /// @dev Raised by `approveClinic` and `revokeClinic`.
    error ClinicStatusUnchanged(address clinic, bool approved);

    /// @notice Bill `billId` is not open (never issued, already fully paid, or cancelled).
    /// @dev Raised by every way of paying and by `cancelBill`/`cancelBillBySig`; `refund` raises it for
    ///      unissued bills.
    error BillNotOpen(uint256 billId, BillStatus status);

    /// @notice The bill is payable in the other currency (ETH versus an ERC-20 token).
    /// @dev Raised by `payBill(terms)` on a token bill, by `payBill(terms, amount)` and
    ///      `payBillWithPermit` on an ETH bill, and by `refund` when ETH is sent with a token refund.
    error WrongPaymentMethod(uint256 billId);

    /// @notice `caller` is not the bill's patient, the only account that pays (refunds go back to it).
    /// @dev Raised by `payBill` (both) and, for the `payer` argument, `payBillWithPermit`.
    error NotPayer(address caller);

    /// @notice Paying `amount` would exceed the `remaining` amount due.
    /// @dev Raised by every way of paying: a bill is never overpaid.
    error AmountExceedsDue(uint256 amount, uint256 remaining);

    /// @notice `caller` is not the bill's issuer.
    /// @dev Raised by `cancelBill` (`cancelBillBySig` checks the signature against the issuer instead).
    error NotIssuer(address caller);

    /// @notice The bill has received a payment, so it can only be refunded, not cancelled.
    /// @dev Raised by `cancelBill` and `cancelBillBySig`.
    error BillPartlyPaid(uint256 billId, uint256 paid);

    /// @notice `caller` is not the bill's payee.
    /// @dev Raised by `refund`.
    error NotPayee(address caller);

    /// @notice Refunding `amount` would return more than the `refundable` rest of what was paid.
    /// @dev Raised by `refund`.
    error RefundExceedsPaid(uint256 amount, uint256 refundable);

    /// @notice For an ETH refund `msg.value` must equal the amount refunded.
    /// @dev Raised by `refund`.
    error WrongValue(uint256 sent, uint256 expected);

    /// @notice The signature's `deadline` has passed.
    /// @dev Raised by `payBillWithPermit` (the same deadline bounds the EIP-2612 permit), `issueBillBySig`
    ///      and `cancelBillBySig`.
    error SignatureExpired(uint256 deadline);

    /// @notice The signature is not the signer's over exactly these fields: for `PayBill` the payer's over
    ///         this bill, amount, current nonce and deadline (a replayed one fails here, its nonce being
    ///         spent); for `IssueBill` and `CancelBill` the issuer's over the signed struct (EOA or ERC-1271).
    /// @dev Raised by `payBillWithPermit`, `issueBillBySig` and `cancelBillBySig` (these two check the
    ///      explicit nonce first: a replay or wrong nonce raises Nonces' `InvalidAccountNonce`).
    error InvalidSignature();
}
