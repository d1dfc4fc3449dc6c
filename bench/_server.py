"""Shared by the benchmarks: a throwaway database, a real uvicorn server in a subprocess, and wrk runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(database_url: str | None = None, seed_days: int = 0) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (base URL, env) of a seeded cityops server; everything is removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="cityops-bench-"))
    env = dict(os.environ, CITYOPS_DATABASE_URL=database_url or f"sqlite+aiosqlite:///{tmp}/bench.db",
               CITYOPS_LOG_LEVEL="WARNING", CITYOPS_MEDIA_DIR=str(tmp / "media"))
    env.pop("CITYOPS_REDIS_URL", None)
    subprocess.run([str(BIN / "cityops"), "demo", "--days", str(seed_days)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen([str(BIN / "cityops"), "serve", "--port", str(port), "--no-sweeper"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base, env
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def login(base: str, username: str, password: str = "cityops-demo") -> str:
    req = urllib.request.Request(base + "/api/v1/auth/login", method="POST",
                                 data=json.dumps({"username": username, "password": password}).encode(),
                                 headers={"content-type": "application/json"})
    return str(json.load(urllib.request.urlopen(req))["access_token"])


def wrk(url: str, *, seconds: int = 10, connections: int = 16, script: str | None = None) -> dict[str, float]:
    """Run wrk (one thread: the server gets the other core) and return requests/s and non-2xx count."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    lua: str | None = None
    if script:
        fd, lua = tempfile.mkstemp(suffix=".lua")
        with os.fdopen(fd, "w") as fh:
            fh.write(script)
        cmd += ["-s", lua]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if lua:
        os.unlink(lua)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = 0.0
    if p99:
        v, unit = float(p99.group(1)), p99.group(2)
        p99_ms = v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return {"rps": rps, "non_2xx": float(bad.group(1)) if bad else 0.0, "p99_ms": p99_ms}
