"""Every Open311 response has the spec's shape in both formats: JSON valid against schemas written from the spec,
XML that parses with the XML declaration and the right root, and the same data in each."""

from __future__ import annotations

from typing import Any

import httpx

from open311.o311 import BASE, both, errors_of, parse_xml, post, spark, validate
from open311.spec_schemas import (
    DISCOVERY,
    EXTENDED_REQUESTS,
    POST_RESPONSE,
    REQUESTS,
    SERVICE_DEFINITION,
    SERVICES,
    TOKEN_RESPONSE,
    UPDATES,
)
from support import World, act


def _report(w: World, **extra: Any) -> dict[str, Any]:
    lat, lon = w.inside
    return {"service_code": "06010", "lat": str(lat), "long": str(lon), "description": "路边暴露垃圾",
            "attribute[condition]": "01", **extra}


async def test_discovery_names_this_endpoint_in_both_formats(client: httpx.AsyncClient, world: World) -> None:
    body = await both(client, "discovery", DISCOVERY, "discovery")
    (endpoint,) = body["endpoints"]
    assert endpoint["url"] == "http://test/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]


async def test_services_are_the_catalog_subclasses(client: httpx.AsyncClient, world: World) -> None:
    body = await both(client, "services", SERVICES, "services")
    by_code = {s["service_code"]: s for s in body}
    # 06010 暴露垃圾 of GB/T 47678.5-2026, class 06 市容环境类, keywords from the catalog.
    garbage = by_code["06010"]
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境类"
    assert garbage["keywords"] == "暴露垃圾, 垃圾, exposed garbage, litter"
    assert garbage["metadata"] is True and garbage["type"] == "realtime"
    # 01037 is both the component 路灯 and the matter 路灯异常: the kind tells them apart.
    assert by_code["01037-component"]["service_name"] == "路灯"
    assert by_code["01037-event"]["service_name"] == "路灯异常"
    assert "01037" not in by_code
    # Only subclasses of the default edition: no class (大类) codes, no GB/T 30428.2 codes.
    assert all(len(code.split("-")[0]) == 5 for code in by_code)
    assert len(body) == len(by_code)


async def test_service_definition_offers_filing_conditions_and_all_six_datatypes(
        client: httpx.AsyncClient, world: World) -> None:
    body = await both(client, "services/06010", SERVICE_DEFINITION, "service_definition")
    assert body["service_code"] == "06010"
    attrs = body["attributes"]
    orders = [a["order"] for a in attrs]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)  # "not used for other attributes"
    assert {a["datatype"] for a in attrs} == {"string", "number", "datetime", "text", "singlevaluelist",
                                              "multivaluelist"}
    cond = next(a for a in attrs if a["code"] == "condition")
    assert cond["datatype"] == "singlevaluelist" and cond["required"] is True  # two conditions: must choose
    assert [v["key"] for v in cond["values"]] == ["01", "02"]
    assert cond["values"][0]["name"] == "在主次干道、广场、公园等公共场所发现暴露垃圾（4 工作时）"
    assert any(a["variable"] is False for a in attrs)  # an informational attribute
    # A subclass with one condition does not force the choice.
    one = await both(client, "services/06029", SERVICE_DEFINITION, "service_definition")
    assert next(a for a in one["attributes"] if a["code"] == "condition")["required"] is False
    for code in ("01037-event", "01037-component"):
        assert (await both(client, f"services/{code}", SERVICE_DEFINITION, "service_definition"))[
            "service_code"] == code


async def test_post_token_and_reads_in_both_formats(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    w = world
    for fmt in ("json", "xml"):
        r = await post(client, api_key, _report(w), fmt)
        assert r.status_code == 200, r.text
        if fmt == "json":
            body = r.json()
            validate(POST_RESPONSE, body)
        else:
            body = spark(parse_xml(r, "service_requests"))
            assert set(body[0]) == {"service_request_id", "service_notice", "account_id"}
        sid = body[0]["service_request_id"]
        assert body[0]["service_notice"].startswith("按立案标准「在主次干道、广场、公园等公共场所发现暴露垃圾」")
        token = r.headers["open311-token"]
        got = await both(client, f"tokens/{token}", TOKEN_RESPONSE, "service_requests")
        assert got == [{"service_request_id": sid, "token": token}]
        one = await both(client, f"requests/{sid}", REQUESTS, "service_requests")
        assert [x["service_request_id"] for x in one] == [sid]
    listed = await both(client, "requests", REQUESTS, "service_requests")
    assert len(listed) == 2
    extended = await both(client, "requests", EXTENDED_REQUESTS, "service_requests", extensions="true")
    assert [x["extended_attributes"]["channel"] for x in extended] == ["open311", "open311"]


async def test_updates_in_both_formats(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    r = await post(client, api_key, _report(world))
    sid = r.json()[0]["service_request_id"]
    cases = (await client.get("/api/v1/cases", headers=world.h("commander"))).json()["items"]
    await act(client, world, cases[0]["id"], "shiftlead", "file")
    body = await both(client, "servicerequestupdates", UPDATES, "service_requests_updates")
    assert [(u["service_request_id"], u["status"], u["description"]) for u in body] == [
        (sid, "action_scheduled", "已立案 filed")]


async def test_errors_have_the_spec_shape_in_both_formats(client: httpx.AsyncClient, world: World,
                                                          api_key: str) -> None:
    for fmt in ("json", "xml"):
        assert errors_of(await post(client, None, _report(world), fmt), 403) == [
            "api_key is required to post a request"]
        assert errors_of(await post(client, "o311_wrong", _report(world), fmt), 403) == [
            "invalid api_key: unknown or revoked"]
        assert errors_of(await client.get(f"{BASE}/services/99999.{fmt}"), 404) == [
            "service_code '99999' was not found"]
        assert errors_of(await client.get(f"{BASE}/requests/2000010100001.{fmt}"), 404) == [
            "service_request_id '2000010100001' was not found"]
        assert errors_of(await client.get(f"{BASE}/services.{fmt}", params={"jurisdiction_id": "nowhere.gov"}),
                         404)[0].startswith("jurisdiction_id 'nowhere.gov' was not found")
        # Several problems at once come back as several errors.
        descs = errors_of(await client.get(f"{BASE}/requests.{fmt}", params={"status": "pending",
                                                                            "start_date": "2026-01-01"}), 400)
        assert descs == ["start_date must be a W3C datetime with a time zone, e.g. 2010-01-01T00:00:00Z",
                         "status 'pending' is not one of: open, closed"]
        assert errors_of(await client.get(f"{BASE}/no-such-thing.{fmt}"), 404)
        assert errors_of(await client.delete(f"{BASE}/requests.{fmt}"), 405)
    # No suffix or an unknown one: XML, the format the spec requires.
    assert errors_of(await client.get(f"{BASE}/services.html"), 400) == [
        "unknown format 'html': end the path with .xml or .json"]


async def test_the_jurisdiction_is_the_district_and_empty_means_absent(client: httpx.AsyncClient,
                                                                       world: World) -> None:
    plain = await both(client, "services", SERVICES, "services")
    assert await both(client, "services", SERVICES, "services", jurisdiction_id="410802") == plain
    assert await both(client, "services", SERVICES, "services", jurisdiction_id="") == plain
