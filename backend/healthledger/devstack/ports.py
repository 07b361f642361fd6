"""Is a TCP port free to listen on, and if not, who holds it (best effort, Linux /proc)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

__all__ = ["PortInUse", "check_port_free", "listener_of", "port_free"]


class PortInUse(RuntimeError):
    """A port the stack must listen on is taken."""


def port_free(host: str, port: int) -> bool:
    """Whether we could listen on host:port now.

    Binds with SO_REUSEADDR, like the servers we start: a socket of a previous run lingering in
    TIME_WAIT does not count as "in use", a listening one (on this address or the wildcard) does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def listener_of(port: int) -> str | None:
    """"pid N (command)" of a process listening on `port`, when /proc lets us see it; else None."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A":  # 0A = LISTEN
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in targets:
                    raw = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ")
                    cmdline = " ".join(raw.decode(errors="replace").split())
                    return f"pid {pid_dir.name}: {cmdline[:80]}"
            except OSError:
                continue
    return None


def check_port_free(host: str, port: int, what: str, hint: str) -> None:
    """Raise PortInUse with a message naming the port, its holder if known, and what to do."""
    if port_free(host, port):
        return
    holder = listener_of(port)
    by = f" (by {holder})" if holder else ""
    raise PortInUse(f"port {port} is in use{by}; it is needed for {what}: {hint}")
