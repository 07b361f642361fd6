"""Wallet login (SIWE), tokens (JWT) and roles read from the chain."""
