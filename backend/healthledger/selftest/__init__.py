"""The synthetic patient-and-doctor workflow that `healthledger selftest` and GET /api/system/selftest run.

It is a *client* of the HTTP API (like the web app), so it checks the live system end to end: the
load balancer, every layer, MongoDB, IPFS and the chain. See workflow.py.
"""
