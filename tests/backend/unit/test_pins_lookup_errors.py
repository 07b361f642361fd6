"""`IpfsClient.pinned_among`, `has` and `unpin` take only the node's "not pinned" as an answer about a pin:
any other error of the node (a deadline, a lost block) fails the call instead of calling files
unpinned (services/pin_release.py forgets a CID once `unpin` has answered for it)."""

from __future__ import annotations

import httpx
import pytest

from healthledger.storage.ipfs import IpfsClient, IpfsError

PINNED = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
UNPINNED = "bafkreifps7s7yay3banv3ppmtgwvztgsktmwxgucbh56ljr3ruq7q5ilcq"


def _client(answer) -> IpfsClient:
    return IpfsClient("http://ipfs.invalid:5001", transport=httpx.MockTransport(answer))


def _node_error(message: str) -> IpfsClient:
    """A node that answers every call with its error `message` (HTTP 500, Kubo's error shape)."""
    return _client(lambda request: httpx.Response(500, json={"Message": message, "Code": 0, "Type": "error"}))


@pytest.mark.asyncio
async def test_a_cid_named_not_pinned_is_left_out_and_the_rest_asked_again() -> None:
    asked: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        args = request.url.params.get_list("arg")
        asked.append(args)
        if UNPINNED in args:
            return httpx.Response(500, json={"Message": f"path '{UNPINNED}' is not pinned", "Code": 0, "Type": "error"})
        return httpx.Response(200, json={"Keys": {cid: {"Type": "recursive"} for cid in args}})

    async with _client(answer) as ipfs:
        assert await ipfs.pinned_among([UNPINNED, PINNED]) == {PINNED}
    assert asked == [[UNPINNED, PINNED], [PINNED]]


# Each call that answers about a pin, asked about PINNED.
ASK_ABOUT_A_PIN = {
    "pinned_among": lambda ipfs: ipfs.pinned_among([PINNED]),
    "has": lambda ipfs: ipfs.has(PINNED),
    "unpin": lambda ipfs: ipfs.unpin(PINNED),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("call", list(ASK_ABOUT_A_PIN))
@pytest.mark.parametrize("message", ["context deadline exceeded", "block was not found locally (offline)"])
async def test_another_not_found_error_fails_the_call(call: str, message: str) -> None:
    async with _node_error(message) as ipfs:
        with pytest.raises(IpfsError):
            await ASK_ABOUT_A_PIN[call](ipfs)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "message",
    [
        f"Failed to remove pin: {UNPINNED} is not pinned",  # js-ipfs
        "not pinned or pinned indirectly",  # Kubo (boxo's ErrNotPinned)
    ],
)
async def test_unpin_of_a_cid_the_node_says_is_not_pinned_answers_false(message: str) -> None:
    async with _node_error(message) as ipfs:
        assert await ipfs.unpin(UNPINNED) is False


@pytest.mark.asyncio
async def test_has_is_false_when_the_node_says_not_pinned() -> None:
    async with _node_error(f"path '{UNPINNED}' is not pinned") as ipfs:
        assert await ipfs.has(UNPINNED) is False
