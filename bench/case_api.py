"""Case-create throughput against the same server's hello-world (/healthz), measured in one run.

    .venv/bin/python bench/case_api.py [--seconds 10] [--database-url URL]

Prints cases/s of POST /api/v1/cases (authenticated inspector, full path: token, catalog, grid lookup, case
number, timeline, audit chain, commit), the /healthz rate, and their ratio (goal ≥ 0.3).
"""

from __future__ import annotations

import argparse
import json

from _server import login, server, wrk

BODY = {"lat": 35.2300, "lon": 113.2400, "description": "bench: 路边暴露垃圾", "category_code": "06010"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = ap.parse_args()
    with server(args.database_url) as (base, _):
        token = login(base, "inspector1")
        script = (
            'wrk.method = "POST"\n'
            f"wrk.body = [[{json.dumps(BODY)}]]\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        )
        wrk(base + "/healthz", seconds=2, connections=args.connections)  # warm-up
        hello = wrk(base + "/healthz", seconds=args.seconds, connections=args.connections)
        create = wrk(base + "/api/v1/cases", seconds=args.seconds, connections=args.connections, script=script)
    ratio = create["rps"] / hello["rps"]
    db = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    print(f"database            {db}")
    print(f"hello-world /healthz {hello['rps']:9.0f} req/s  p99 {hello['p99_ms']:.1f} ms")
    print(f"POST /api/v1/cases   {create['rps']:9.0f} cases/s p99 {create['p99_ms']:.1f} ms"
          f"  non-2xx {create['non_2xx']:.0f}")
    print(f"ratio                {ratio:9.3f}  (goal >= 0.3)")


if __name__ == "__main__":
    main()
