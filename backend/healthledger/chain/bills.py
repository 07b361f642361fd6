"""BillPayments and its tokens over JSON-RPC: reads, logs, and the encoding of every bill call.

Why an adapter of its own: bills live in a separate contract (one per deployment) and are paid in
ETH or any ERC-20 token, so the services need a few reads (a bill's state, an account's nonce, a
token's name, decimals, balance and EIP-712 domain), the bill events, and calldata for the relayed
calls (`issueBillBySig`, `cancelBillBySig`, `payBillWithPermit`) and for the wallet's own ones
(`payBill`, `refund`, the token's `approve`). Like `ChainClient`, every read goes through web3 with
the client's timeout and turns an outage into `ChainUnavailable` (`translate_outages`); logs are read
in bounded block ranges (LOG_BLOCK_RANGE) from the bill's issue block on, never from block 0.

A bill's terms are not stored on chain (contracts/BillPayments.sol): they come from its `BillIssued`
event, which the backend indexes (db/bills.py), and go back into every call as a `BillTerms` tuple.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes
from web3.contract import AsyncContract
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from .artifacts import bill_payments, test_usd
from .client import ChainClient
from .events import hex0x
from .reverts import DecodedRevert, decode_revert_data, revert_data_from_exception
from .rpc import ChainError, translate_outages

__all__ = [
    "BILL_STATUS",
    "ETH",
    "LOG_BLOCK_RANGE",
    "BillLog",
    "BillState",
    "BillTerms",
    "BillsChain",
    "TokenInfo",
    "bill_id_hex",
]

ETH = "0x0000000000000000000000000000000000000000"
# Blocks per eth_getLogs: hosted providers cap ranges (often at 10,000 blocks).
LOG_BLOCK_RANGE = 10_000
# BillStatus enum of IBillPayments, by its number.
BILL_STATUS = {0: "none", 1: "open", 2: "paid", 3: "cancelled"}
BILL_EVENTS = ("BillIssued", "BillPaid", "BillRefunded", "BillCancelled")


def bill_id_hex(bill_id: int) -> str:
    """A bill id as the API shows it: 0x + 64 hex."""
    return "0x" + bill_id.to_bytes(32, "big").hex()


@dataclass(frozen=True)
class BillTerms:
    """IBillPayments.BillTerms: what BillIssued emitted and every later call passes back."""

    patient: str
    payee: str
    issuer: str
    token: str
    amount: int
    due_date: int
    record_id: int
    nonce: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.patient, self.payee, self.issuer, self.token, self.amount, self.due_date, self.record_id, self.nonce)


@dataclass(frozen=True)
class BillState:
    paid: int
    refunded: int
    status: str  # none | open | paid | cancelled


@dataclass(frozen=True)
class TokenInfo:
    address: str
    symbol: str
    name: str
    decimals: int
    permit: bool


ETH_INFO = TokenInfo(address=ETH, symbol="ETH", name="Ether", decimals=18, permit=False)


@dataclass(frozen=True)
class BillLog:
    """One decoded bill event with where (and, once filled, when) it was mined."""

    name: str
    bill_id: int
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    timestamp: int | None = field(default=None)


class BillsChain:
    """Reads and call encodings of one BillPayments deployment (see the module docstring)."""

    def __init__(self, chain: ChainClient, address: str, deployed_block: int | None = None) -> None:
        self.chain = chain
        # The chain package's own web3 session (with the client's timeout and outage rules).
        self._w3 = chain.web3_for_relayer
        self.address = to_checksum_address(address)
        self.contract: AsyncContract = self._w3.eth.contract(address=self.address, abi=bill_payments().abi)
        self._erc20_abi = test_usd().abi
        self._topics = {
            name: event_abi_to_log_topic(entry)
            for name, entry in ((e["name"], e) for e in bill_payments().abi if e.get("type") == "event")
            if name in BILL_EVENTS
        }
        self._names_by_topic = {t: n for n, t in self._topics.items()}
        self._tokens: dict[str, TokenInfo] = {ETH.lower(): ETH_INFO}
        self._deployed_block = deployed_block

    def token_contract(self, token: str) -> AsyncContract:
        return self._w3.eth.contract(address=to_checksum_address(token), abi=self._erc20_abi)

    # -- reads ----------------------------------------------------------------------------------

    @translate_outages
    async def bill_state(self, bill_id: int) -> BillState:
        paid, refunded, status = await self.contract.functions.billState(bill_id).call()
        return BillState(paid=int(paid), refunded=int(refunded), status=BILL_STATUS.get(int(status), "none"))

    @translate_outages
    async def nonce_of(self, account: str) -> int:
        """BillPayments' `nonces(account)`: one space for PayBill, IssueBill and CancelBill signatures."""
        return int(await self.contract.functions.nonces(to_checksum_address(account)).call())

    @translate_outages
    async def is_approved_clinic(self, clinic: str) -> bool:
        return bool(await self.contract.functions.isApprovedClinic(to_checksum_address(clinic)).call())

    @translate_outages
    async def token_info(self, token: str) -> TokenInfo:
        """Symbol, name, decimals and whether it has an ERC-5267 domain (permit); cached (they never change)."""
        key = token.lower()
        if key in self._tokens:
            return self._tokens[key]
        contract = self.token_contract(token)
        try:
            symbol = str(await contract.functions.symbol().call())
            name = str(await contract.functions.name().call())
            decimals = int(await contract.functions.decimals().call())
        except (ContractLogicError, BadFunctionCallOutput, ValueError) as exc:
            raise ChainError(f"{token} does not answer as an ERC-20 token: {exc}") from None
        try:
            await contract.functions.eip712Domain().call()
            permit = True
        except (ContractLogicError, BadFunctionCallOutput, ValueError):
            permit = False
        info = TokenInfo(address=to_checksum_address(token), symbol=symbol, name=name, decimals=decimals, permit=permit)
        self._tokens[key] = info
        return info

    @translate_outages
    async def token_domain(self, token: str) -> dict[str, Any]:
        """The token's own EIP-712 domain, read from its ERC-5267 `eip712Domain()` (what a permit is signed on)."""
        _fields, name, version, chain_id, verifying, _salt, _ext = await self.token_contract(token).functions.eip712Domain().call()
        return {"name": str(name), "version": str(version), "chainId": int(chain_id),
                "verifyingContract": to_checksum_address(verifying)}

    @translate_outages
    async def token_nonce(self, token: str, owner: str) -> int:
        """The token's EIP-2612 `nonces(owner)`."""
        return int(await self.token_contract(token).functions.nonces(to_checksum_address(owner)).call())

    @translate_outages
    async def token_balance(self, token: str, owner: str) -> int:
        if token.lower() == ETH.lower():
            return int(await self._w3.eth.get_balance(to_checksum_address(owner)))
        return int(await self.token_contract(token).functions.balanceOf(to_checksum_address(owner)).call())

    @translate_outages
    async def preflight(self, data: str, sender: str, value: int = 0) -> DecodedRevert | None:
        """The decoded reason `data` (a call of BillPayments) would revert with if `sender` sent it now, or None."""
        try:
            await self._w3.eth.call({"from": to_checksum_address(sender), "to": self.address, "data": data, "value": value})
        except ContractLogicError as exc:
            return decode_revert_data(revert_data_from_exception(exc)) or DecodedRevert("reverted", {}, "")
        return None

    # -- logs -----------------------------------------------------------------------------------

    def decode_log(self, entry: Mapping[str, Any]) -> BillLog | None:
        topics = entry.get("topics") or []
        if not topics or to_checksum_address(entry["address"]) != self.address:
            return None
        name = self._names_by_topic.get(bytes(HexBytes(topics[0])))
        if name is None:
            return None
        event = getattr(self.contract.events, name)().process_log(entry)
        args = {k: (to_checksum_address(v) if isinstance(v, str) and v.startswith("0x") and len(v) == 42 else v)
                for k, v in event["args"].items()}
        return BillLog(
            name=name, bill_id=int(args.pop("billId")), args=args, block_number=int(event["blockNumber"]),
            block_hash=hex0x(event["blockHash"]), tx_hash=hex0x(event["transactionHash"]), log_index=int(event["logIndex"]),
        )

    def issued_from_receipt(self, receipt: Mapping[str, Any]) -> tuple[BillLog, BillTerms]:
        """The BillIssued event of an issue receipt and the terms it publishes; ValueError if none."""
        for entry in receipt.get("logs", []):
            log = self.decode_log(entry)
            if log is not None and log.name == "BillIssued":
                return log, terms_of(log)
        raise ValueError("no BillIssued event in the receipt")

    def issued_from_receipt_all(self, receipt: Mapping[str, Any]) -> list[BillLog]:
        """Every BillIssued event this BillPayments emitted in a receipt (logs of other contracts ignored)."""
        return [log for log in self.logs_from_receipt(receipt) if log.name == "BillIssued"]

    def logs_from_receipt(self, receipt: Mapping[str, Any]) -> list[BillLog]:
        return [log for log in (self.decode_log(e) for e in receipt.get("logs", [])) if log is not None]

    @translate_outages
    async def bill_logs(self, bill_id: int, from_block: int) -> list[BillLog]:
        """Every event of one bill (BillIssued, BillPaid, BillRefunded, BillCancelled) since `from_block`
        (its issue block), oldest first, with
        block timestamps (one eth_getLogs per LOG_BLOCK_RANGE blocks, one batch for the blocks)."""
        end = await self.chain.block_number()
        topics = [["0x" + self._topics[n].hex() for n in BILL_EVENTS],
                  bill_id_hex(bill_id)]
        raw: list[Any] = []
        for start in range(from_block, end + 1, LOG_BLOCK_RANGE):
            raw.extend(await self._w3.eth.get_logs(
                {"address": self.address, "fromBlock": start, "toBlock": min(start + LOG_BLOCK_RANGE - 1, end),
                 "topics": topics}))
        logs = [log for log in (self.decode_log(e) for e in raw) if log is not None and log.bill_id == bill_id]
        logs.sort(key=lambda log: (log.block_number, log.log_index))
        return await self.with_timestamps(logs)

    @translate_outages
    async def issued_logs(self, role: str, account: str, from_block: int, to_block: int) -> list[BillLog]:
        """The BillIssued events of this BillPayments naming `account` as its indexed `patient` or
        `payee` (`role`) between two blocks (inclusive), oldest first, with block timestamps; one
        eth_getLogs per LOG_BLOCK_RANGE blocks. The issuer is not an indexed topic: an issuer finds
        the bills it issued to itself as payee."""
        position = {"patient": 2, "payee": 3}[role]
        topics: list[Any] = ["0x" + self._topics["BillIssued"].hex(), None, None, None]
        topics[position] = "0x" + bytes.fromhex(to_checksum_address(account)[2:]).rjust(32, b"\x00").hex()
        raw: list[Any] = []
        for start in range(from_block, to_block + 1, LOG_BLOCK_RANGE):
            raw.extend(await self._w3.eth.get_logs(
                {"address": self.address, "fromBlock": start, "toBlock": min(start + LOG_BLOCK_RANGE - 1, to_block),
                 "topics": topics[: position + 1]}))
        logs = [log for log in (self.decode_log(e) for e in raw) if log is not None and log.name == "BillIssued"]
        logs.sort(key=lambda log: (log.block_number, log.log_index))
        return await self.with_timestamps(logs)

    @translate_outages
    async def deployed_block(self) -> int:
        """The block BillPayments was deployed in (the first with its code), by bisection over
        `eth_getCode` (about log2(head) reads, once per process) unless the settings name it: where an
        account's first scan starts."""
        if self._deployed_block is None:
            low, high = 0, await self.chain.block_number()
            while low < high:
                middle = (low + high) // 2
                if await self._w3.eth.get_code(self.address, block_identifier=middle):
                    high = middle
                else:
                    low = middle + 1
            self._deployed_block = low
        return self._deployed_block

    async def with_timestamps(self, logs: Sequence[BillLog]) -> list[BillLog]:
        if not logs:
            return list(logs)
        times = await self.chain.block_timestamps(log.block_number for log in logs)
        return [BillLog(**{**log.__dict__, "timestamp": times.get(log.block_number)}) for log in logs]

    # -- encodings ------------------------------------------------------------------------------

    def encode(self, fn_name: str, *args: Any) -> str:
        """Calldata of a BillPayments function (overloads resolved by their arguments)."""
        return self.contract.encode_abi(fn_name, args=list(args))

    def encode_token(self, token: str, fn_name: str, *args: Any) -> str:
        return self.token_contract(token).encode_abi(fn_name, args=list(args))

    def issue_by_sig(self, message: Mapping[str, Any], signature: bytes) -> str:
        m = message
        return self.encode(
            "issueBillBySig", to_checksum_address(m["patient"]), to_checksum_address(m["payee"]),
            to_checksum_address(m["token"]), int(m["amount"]), int(m["dueDate"]), int(m["recordId"]),
            to_checksum_address(m["issuer"]), int(m["nonce"]), int(m["deadline"]), signature,
        )

    def cancel_by_sig(self, terms: BillTerms, nonce: int, deadline: int, signature: bytes) -> str:
        return self.encode("cancelBillBySig", terms.as_tuple(), nonce, deadline, signature)

    def pay_with_permit(
        self, terms: BillTerms, amount: int, deadline: int, permit_signature: bytes, payer: str, signature: bytes
    ) -> str:
        r, s, v = permit_signature[:32], permit_signature[32:64], permit_signature[64]
        return self.encode("payBillWithPermit", terms.as_tuple(), amount, deadline, v, r, s,
                           to_checksum_address(payer), signature)

    def pay_eth(self, terms: BillTerms) -> str:
        return self.contract.get_function_by_signature(
            "payBill((address,address,address,address,uint256,uint256,uint256,uint256))"
        )(terms.as_tuple())._encode_transaction_data()

    def refund(self, terms: BillTerms, amount: int) -> str:
        return self.encode("refund", terms.as_tuple(), amount)

    def approve(self, token: str, amount: int) -> str:
        return self.encode_token(token, "approve", self.address, amount)


def terms_of(log: BillLog) -> BillTerms:
    """The terms a BillIssued log publishes."""
    a = log.args
    return BillTerms(
        patient=a["patient"], payee=a["payee"], issuer=a["issuer"], token=a["token"], amount=int(a["amount"]),
        due_date=int(a["dueDate"]), record_id=int(a["recordId"]), nonce=int(a["nonce"]),
    )
