"""The local stack's own secret (JWT_SECRET) and its owner-only settings files.

Why a module of its own: these are the only files the launcher writes that hold secrets, so they
are written one way only (atomically, mode 0600 from the first byte, through `write_atomic`) and the
rule is easy to check in one place. Local development secrets only; production sets its own.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .chainstate import write_atomic
from .config import StackError

__all__ = ["load_or_create_secrets", "write_private"]


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by the owner only (0600) from the first byte."""
    write_atomic(path, text.encode("utf-8"), mode=0o600)


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """JWT_SECRET for local runs: generated once, kept in `path` (mode 0600).

    Persisted so that sign-ins survive a restart. Local development secret only; production sets it
    in its environment. No key that decrypts records is kept here (keys v2: data keys are sealed to
    each reader's wallet-derived key); a secret an older version kept here (its grant key) is removed.
    """
    stored: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StackError(f"{path} is unreadable ({exc}): fix or delete it (sign-ins then reset)") from None
        if not isinstance(loaded, dict):
            raise StackError(f"{path} is not a JSON object: fix or delete it (sign-ins then reset)")
        stored = {k: v for k, v in loaded.items() if isinstance(v, str)}
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    wanted = {"JWT_SECRET": lambda: secrets.token_urlsafe(48)}
    retired = set(stored) - set(wanted)
    stored = {name: value for name, value in stored.items() if name in wanted}
    missing = {name: make() for name, make in wanted.items() if not stored.get(name)}
    if missing or retired:
        stored.update(missing)
        write_private(path, json.dumps(stored, indent=2) + "\n")
    return stored
