"""Docs checked by tests: the workflow page carries the generated table, and names every status and action."""

from __future__ import annotations

from pathlib import Path

from cityops.case.docs import workflow_markdown
from cityops.case.workflow import TRANSITIONS, Status

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_workflow_page_has_the_generated_table() -> None:
    page = (DOCS / "workflow.md").read_text(encoding="utf-8")
    assert workflow_markdown() in page, "docs/workflow.md is stale: regenerate with python -m cityops.case.docs"


def test_every_status_and_action_is_documented() -> None:
    page = (DOCS / "workflow.md").read_text(encoding="utf-8")
    missing = [s.value for s in Status if f"`{s.value}`" not in page]
    missing += [r.action for r in TRANSITIONS if f"`{r.action}`" not in page]
    assert not missing, f"undocumented: {missing}"


def test_event_types_are_documented() -> None:
    from typing import get_args

    from cityops.realtime import events

    api = (DOCS / "api.md").read_text(encoding="utf-8")
    types: list[str] = []
    for name in dir(events):
        model = getattr(events, name)
        field = getattr(model, "model_fields", {}).get("type")
        if field is not None:
            types += list(get_args(field.annotation))
    assert types
    missing = [t for t in types if t not in api]
    assert not missing, f"event types missing from docs/api.md: {missing}"
