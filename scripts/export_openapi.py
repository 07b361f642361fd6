"""Write the API's OpenAPI document to `frontend/openapi.json`, byte for byte the same on every run.

Why: the web app's client and types are generated from this file (`npm --prefix frontend run gen:api`),
so the frontend never guesses the API's shapes. `python scripts/export_openapi.py --check` fails when
the committed file no longer matches the app (run by `make test`); run it without `--check` after
changing a route or a model, then regenerate the client.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "frontend" / "openapi.json"


def render() -> str:
    """The document as text: sorted keys and a fixed indent, so the same app gives the same bytes."""
    from healthledger.app import create_app
    from healthledger.settings import Settings

    # Settings from defaults only: the developer's `.env` must not change the published contract.
    app = create_app(Settings(_env_file=None, frontend_dist=""))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(
                f"{TARGET.relative_to(ROOT)} is stale: run `python scripts/export_openapi.py` "
                "and `npm --prefix frontend run gen:api`, then commit both.",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
