"""Write the API's OpenAPI document to a file: `python -m healthledger.openapi_export frontend/openapi.json`.

The committed `frontend/openapi.json` is what the web app's TypeScript client is generated from, so
it must be exactly what the app serves at `/openapi.json`; a backend test compares the two. The
output is deterministic (sorted keys, two-space indent, a final newline) and needs no running
service: the app factory connects to nothing until its lifespan starts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .app import create_app
from .settings import Settings


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of an app built with default settings (no frontend mounted)."""
    return create_app(Settings(_env_file=None, frontend_dist="")).openapi()


def render(document: dict[str, Any]) -> str:
    """The document as the committed file holds it."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the document, e.g. frontend/openapi.json")
    args = parser.parse_args(argv)
    args.output.write_text(render(openapi_document()), encoding="utf-8")


if __name__ == "__main__":
    main()
