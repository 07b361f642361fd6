"""Everything on chain: packaged artifacts, EIP-712 payloads, the read client, the relayer, deployment.

Modules are imported explicitly (`from healthledger.chain.client import ChainClient`): importing
the package itself stays cheap and pulls in no web3.
"""
