"""Keep the garbage collector's full passes off the objects an API process holds for its whole life.

Once started, an API process holds about 250,000 objects the collector tracks (FastAPI's routes and
pydantic schemas, web3's and eth-abi's registries, the FHIR models). A full (generation 2) collection
walks every one of them while holding the GIL: 150 ms on an idle 2-core machine, up to 250 ms under
load, during which every request in flight waits. Large requests set such passes off: with
`gc.callbacks` watching, one run of the 10,000-record integrity benchmark saw 10 of them, 1.5 s in
all, most inside a report.

`gc.freeze()` moves every object alive at that moment to a permanent generation that collections
skip; objects made afterwards are collected as before. It runs once the app has started (every module
imported, the services built), after a collection so that no start-up garbage is kept for good.

Several apps in one process (the tests run API servers in threads): each start freezes what exists
then, and the heap is unfrozen only when the last of them stops.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_running_apps = 0


def freeze_startup_heap() -> int:
    """Collect, then freeze everything alive; returns how many objects are frozen now."""
    global _running_apps
    with _lock:
        gc.collect()
        gc.freeze()
        _running_apps += 1
        return gc.get_freeze_count()


def release_startup_heap() -> None:
    """One app stopped: once none runs, frozen objects are collectable again."""
    global _running_apps
    with _lock:
        _running_apps = max(_running_apps - 1, 0)
        if _running_apps == 0:
            gc.unfreeze()
