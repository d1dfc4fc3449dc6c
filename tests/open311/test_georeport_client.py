"""An existing Open311 client library (the `georeport` package on PyPI) talks to a running cityops server over
HTTP, in JSON and in XML: service list, service definition, requests, one request. The library cannot post, so the
report it then reads is posted the way an app would, as a plain form."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import georeport
import pytest
import requests
import uvicorn

from cityops.app import create_app
from cityops.config import Settings
from support import World


@contextmanager
def _serving(settings: Settings) -> Iterator[str]:
    """A real uvicorn server on a free port, in a thread with its own event loop and runtime."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(settings, run_sweeper=False), host="127.0.0.1", port=port,
                            log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/open311/v2"
    finally:
        server.should_exit = True
        thread.join(20)


def _use(base: str, fmt: str, key: str, w: World) -> dict[str, Any]:
    """What an app does with the library (blocking calls: run in a worker thread)."""
    client = georeport.GeoReport(base, jurisdiction="410802", output_format=fmt)
    services = client.get_service_list()
    codes = [s["service_code"] for s in services]
    definition = client.get_service_definition("06010")
    lat, lon = w.inside
    posted = requests.post(f"{base}/requests.{fmt}", timeout=10, data={
        "api_key": key, "jurisdiction_id": "410802", "service_code": "06010", "lat": lat, "long": lon,
        "description": f"{fmt} 客户端上报的暴露垃圾", "attribute[condition]": "01"})
    posted.raise_for_status()
    listed = client.get_service_requests(service_code="06010", status="open")
    if isinstance(listed, dict):  # xmltodict gives a dict, not a list, for a single element
        listed = [listed]
    newest = listed[0]["service_request_id"]
    one = client.get_service_request(newest)
    return {"codes": codes, "definition": definition, "listed": listed, "one": one}


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_the_georeport_library_reads_a_running_server(world: World, api_key: str, settings: Settings,
                                                            fmt: str) -> None:
    with _serving(settings) as base:
        got = await asyncio.to_thread(_use, base, fmt, api_key, world)
    assert "06010" in got["codes"] and "01037-event" in got["codes"]
    attrs = got["definition"]["attributes"]
    attrs = attrs["attribute"] if fmt == "xml" else attrs  # xmltodict keeps the XML nesting
    assert [a["code"] for a in attrs][:2] == ["condition", "observed_at"]
    assert len(got["listed"]) == 1
    one = got["one"]
    assert one["description"] == f"{fmt} 客户端上报的暴露垃圾"
    assert one["status"] == "open" and one["service_code"] == "06010" and one["service_name"] == "暴露垃圾"
    assert one["requested_datetime"].endswith("+08:00")
    if fmt == "xml":
        assert one["lat"] == "35.005" and one["agency_responsible"] is None  # empty element
    else:
        assert one["lat"] == 35.005 and one["agency_responsible"] is None
