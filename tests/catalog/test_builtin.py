"""The packaged catalogue loads, holds the codes the reference lists, and its validation rejects bad data."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from cityops.catalog.builtin import (
    NEW_EDITION,
    OLD_EDITION,
    CatalogDataError,
    CategorySpec,
    EditionSpec,
    load_builtin,
    parse_catalog,
)
from cityops.deadlines.units import TimeUnit


def _editions() -> dict[str, EditionSpec]:
    return {edition.code: edition for edition in load_builtin()}


def _get(edition: str, kind: str, code: str) -> CategorySpec:
    found = _editions()[edition].find(code, kind)  # type: ignore[arg-type]
    assert found is not None, f"{edition} {kind} {code} missing"
    return found


def _raw() -> dict[str, Any]:
    text = resources.files("cityops.catalog").joinpath("data", "catalog.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_both_editions_load_and_are_marked_partial() -> None:
    editions = load_builtin()
    assert [e.code for e in editions] == [OLD_EDITION, NEW_EDITION]
    assert all(e.partial for e in editions)
    assert all("cityops catalog import" in e.note for e in editions)
    assert _raw()["partial"] is True


@pytest.mark.parametrize(
    ("edition", "kind", "code", "name"),
    [
        (NEW_EDITION, "event", "06010", "暴露垃圾"),
        (NEW_EDITION, "event", "09006", "占道经营"),
        (NEW_EDITION, "event", "09009", "机动车乱停放"),
        (NEW_EDITION, "event", "01037", "路灯异常"),
        (NEW_EDITION, "component", "01037", "路灯"),
        (NEW_EDITION, "component", "01001", "供水井盖"),
        (NEW_EDITION, "event", "10002", "架空线缆脱落"),
        (NEW_EDITION, "event", "06", "市容环境类"),
        (OLD_EDITION, "event", "0102", "暴露垃圾"),
        (OLD_EDITION, "component", "0102", "污水井盖"),
        (OLD_EDITION, "component", "0101", "上水井盖"),
        (OLD_EDITION, "event", "0507", "乱堆物堆料"),
        (OLD_EDITION, "event", "05", "街面秩序"),
    ],
)
def test_reference_codes_present_with_their_names(edition: str, kind: str, code: str, name: str) -> None:
    assert _get(edition, kind, code).name == name


@pytest.mark.parametrize(
    ("edition", "kind", "codes"),
    [
        (OLD_EDITION, "component", ["01", "02", "03", "04", "05", "06"]),
        (OLD_EDITION, "event", ["01", "02", "03", "04", "05"]),
        (NEW_EDITION, "component", ["01", "02", "03", "04", "05"]),
        (NEW_EDITION, "event", ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]),
    ],
)
def test_every_listed_class_is_present(edition: str, kind: str, codes: list[str]) -> None:
    classes = [c.code for c in _editions()[edition].categories if c.kind == kind and c.level == "class"]
    assert classes == codes


def test_unverified_class_is_flagged() -> None:
    assert _get(OLD_EDITION, "component", "06").verified is False
    assert _get(OLD_EDITION, "component", "01").verified is True


def test_every_subclass_has_an_existing_parent_of_its_kind() -> None:
    for edition in load_builtin():
        for category in edition.subclasses():
            assert category.parent_code is not None
            assert category.code.startswith(category.parent_code)
            parent = edition.find(category.parent_code, category.kind)
            assert parent is not None and parent.level == "class", category


def test_code_lengths_follow_the_edition() -> None:
    lengths = {OLD_EDITION: 4, NEW_EDITION: 5}
    for edition in load_builtin():
        for category in edition.categories:
            expected = 2 if category.level == "class" else lengths[edition.code]
            assert len(category.code) == expected and category.code.isdigit(), category


def test_subclasses_have_conditions_and_classes_do_not() -> None:
    for edition in load_builtin():
        for category in edition.categories:
            if category.level == "class":
                assert category.conditions == ()
            else:
                assert category.conditions, category
                codes = [c.code for c in category.conditions]
                assert codes == [f"{i:02d}" for i in range(1, len(codes) + 1)]
                assert all(c.deadline_value > 0 and c.closing_condition for c in category.conditions)


def test_reference_deadlines() -> None:
    for edition, code in ((NEW_EDITION, "06010"), (OLD_EDITION, "0102")):
        first = _get(edition, "event", code).conditions[0]
        assert (first.deadline_value, first.deadline_unit) == (4.0, TimeUnit.WORKING_HOURS)
        assert first.closing_condition == "垃圾清理干净"
    parking = _get(NEW_EDITION, "event", "09009").conditions[0]
    assert (parking.deadline_value, parking.deadline_unit) == (3.0, TimeUnit.URGENT_HOURS)
    missing_cover = _get(NEW_EDITION, "component", "01001").conditions[0]
    assert (missing_cover.deadline_value, missing_cover.deadline_unit) == (2.0, TimeUnit.URGENT_HOURS)


def test_routing_and_search_words() -> None:
    assert _get(NEW_EDITION, "event", "06010").department_code == "sanitation"
    assert _get(NEW_EDITION, "event", "09006").department_code == "enforcement"
    assert _get(OLD_EDITION, "component", "0402").department_code == "landscape"
    assert _get(NEW_EDITION, "component", "01001").department_code == "municipal"
    assert "暴露垃圾" in _get(NEW_EDITION, "event", "06010").keywords
    assert _get(NEW_EDITION, "event", "06010").name_en == "Exposed garbage"


def test_load_returns_a_fresh_list() -> None:
    first = load_builtin()
    first.clear()
    assert len(load_builtin()) == 2


def _break(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_raw())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _index(edition: int, kind: str, code: str) -> int:
    categories = _raw()["editions"][edition]["categories"]
    return next(i for i, c in enumerate(categories) if c["kind"] == kind and c["code"] == code)


GARBAGE_CONDITION = ("editions", 1, "categories", _index(1, "event", "06010"), "conditions", 0)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        ((("editions", 1, "categories", _index(1, "event", "06010"), "code"), "0601"), "5 digits"),
        ((("editions", 0, "categories", _index(0, "event", "0102"), "code"), "01020"), "4 digits"),
        ((("editions", 1, "categories", _index(1, "event", "06010"), "parent"), "07"), "parent"),
        ((("editions", 1, "categories", _index(1, "event", "06"), "code"), "11"), "parent class 06"),
        (((*GARBAGE_CONDITION, "deadline_unit"), "hrs"), "unknown time unit"),
        (((*GARBAGE_CONDITION, "deadline_value"), 0), "positive"),
        ((("editions", 1, "categories", _index(1, "event", "06010"), "department"), "police"), "department"),
        ((("editions", 1, "code"), "GB/T 1-2000"), "unknown edition"),
        ((("partial",), "yes"), "partial"),
    ],
)
def test_validation_rejects_inconsistent_data(edit: tuple[tuple[Any, ...], Any], fragment: str) -> None:
    with pytest.raises(CatalogDataError, match=fragment):
        parse_catalog(_break(*edit))


def test_validation_rejects_a_repeated_category() -> None:
    data = _raw()
    categories = data["editions"][1]["categories"]
    categories.append(copy.deepcopy(categories[_index(1, "event", "06010")]))
    with pytest.raises(CatalogDataError, match="listed twice"):
        parse_catalog(data)


def test_unmodified_data_parses() -> None:
    assert parse_catalog(_raw()) == load_builtin()
