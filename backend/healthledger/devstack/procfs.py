"""/proc/<pid>/stat and /proc/<pid>/status, read one way for the dev stack's tools, the tests and the benchmarks.

In stat, the second field is the command name in parentheses, which may itself hold spaces and
parentheses: the fields are what follows its last ")". Linux only, as the dev stack is.
"""

from __future__ import annotations

from pathlib import Path


def stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after "pid (comm)": index 0 is the state, 1 the parent, 2 the process group,
    3 the session, 11 and 12 user and system time in clock ticks, 19 the start time. `pid` may be
    "self". OSError when the process is gone."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2 :].split()


def status_kib(pid: int | str, *names: str) -> dict[str, int]:
    """The named `Name:  N kB` lines of /proc/<pid>/status (VmRSS, VmHWM...), in KiB; a missing one
    is left out. `pid` may be "self". OSError when the process is gone."""
    wanted = set(names)
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", "rb") as status:
        for line in status:
            name, _, rest = line.partition(b":")
            key = name.decode()
            if key in wanted:
                out[key] = int(rest.split()[0])
    return out
