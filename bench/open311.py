"""Open311 GeoReport v2 throughput against the same server's hello-world (/healthz), measured in one run.

    .venv/bin/python bench/open311.py [--seconds 10] [--database-url URL] [--seed-days 21]

On a demo district with at least 1,000 stored requests it measures, each as a ratio to /healthz (goal ≥ 0.3):
  - GET  /open311/v2/requests.json?page_size=100   (100 of the stored requests, newest first)
  - GET  /open311/v2/requests/{id}.json            (one request)
  - POST /open311/v2/requests.json                 (form-encoded, with api_key, contact fields and an attribute)
The reads are served from the adapter's response cache between changes, which is the point: apps poll. The time
to compute the list after a change (cache dropped) is printed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import urllib.parse
import urllib.request

from _server import BIN, server, wrk

FORM = {"service_code": "06010", "lat": "35.2300", "long": "113.2400", "description": "bench: 路边暴露垃圾",
        "attribute[condition]": "01", "first_name": "三", "last_name": "张", "phone": "13812345678",
        "email": "bench@example.org"}
STORED = 1000


def _api_key(env: dict[str, str]) -> str:
    out = subprocess.run([str(BIN / "cityops"), "apikey", "create", "bench", "--rate-per-minute", "1000000000",
                          "--burst", "1000000000"], env=env, check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def _get(url: str) -> object:
    return json.load(urllib.request.urlopen(url, timeout=30))


def _post(base: str, key: str) -> None:
    data = urllib.parse.urlencode({**FORM, "api_key": key}).encode()
    urllib.request.urlopen(urllib.request.Request(base + "/open311/v2/requests.json", data=data), timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    ap.add_argument("--seed-days", type=int, default=21, help="days of demo history before the run")
    args = ap.parse_args()
    with server(args.database_url, seed_days=args.seed_days) as (base, env):
        key = _api_key(env)
        body = urllib.parse.urlencode({**FORM, "api_key": key})
        post_script = ('wrk.method = "POST"\n'
                       f"wrk.body = [[{body}]]\n"
                       'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
        wrk(base + "/healthz", seconds=2, connections=args.connections)  # warm-up
        hello = wrk(base + "/healthz", seconds=args.seconds, connections=args.connections)
        posted = wrk(base + "/open311/v2/requests.json", seconds=args.seconds, connections=args.connections,
                     script=post_script)
        stored = len(_get(base + "/open311/v2/requests.json"))  # type: ignore[arg-type]
        for _ in range(max(0, STORED - stored)):
            _post(base, key)
        stored = max(stored, STORED)
        listed = _get(base + "/open311/v2/requests.json?page_size=100")
        assert isinstance(listed, list) and len(listed) == 100
        one_id = listed[50]["service_request_id"]
        list_url = base + "/open311/v2/requests.json?page_size=100"
        one_url = base + f"/open311/v2/requests/{one_id}.json"
        wrk(list_url, seconds=2, connections=args.connections)  # warm-up
        lst = wrk(list_url, seconds=args.seconds, connections=args.connections)
        one = wrk(one_url, seconds=args.seconds, connections=args.connections)
        cold = []
        for _ in range(20):  # a POST invalidates the cache: the next list is computed from the database
            _post(base, key)
            t = time.perf_counter()
            _get(list_url)
            cold.append((time.perf_counter() - t) * 1000)
    db = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    print(f"database                      {db}; {stored} requests stored (≥ {STORED})")
    print(f"hello-world /healthz          {hello['rps']:9.0f} req/s  p99 {hello['p99_ms']:.1f} ms")
    print(f"GET requests.json (100), computed after a change: median {statistics.median(cold):.1f} ms "
          f"(one client; the figures below include the cache)")
    for name, r in (("GET requests.json (100)", lst), ("GET requests/{id}.json", one), ("POST requests.json", posted)):
        print(f"{name:<29} {r['rps']:9.0f} req/s  p99 {r['p99_ms']:.1f} ms  non-2xx {r['non_2xx']:.0f}  "
              f"ratio {r['rps'] / hello['rps']:.3f}  (goal >= 0.3)")


if __name__ == "__main__":
    main()
