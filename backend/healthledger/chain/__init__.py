"""Everything on chain: packaged artifacts, the signed-action table, EIP-712 payloads, the read client,
the relayer (and its revert decoding, fees and errors), deployment.

Modules are imported explicitly (`from healthledger.chain.client import ChainClient`): importing
the package itself stays cheap and pulls in no web3.
"""
