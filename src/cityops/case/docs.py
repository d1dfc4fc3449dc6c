"""Renders the transition table as Markdown for docs/workflow.md (a test keeps the page in step with the code)."""

from __future__ import annotations

from cityops.auth.roles import Role
from cityops.case.workflow import REQUEST_GRANTS, TRANSITIONS, Scope, Status

_SCOPE_NOTE = {
    Scope.ANY: "",
    Scope.OWN_DEPARTMENT: " (own department)",
    Scope.ASSIGNED_OFFICER: " (assigned)",
    Scope.REPORTER: " (own report)",
}


def workflow_markdown() -> str:
    roles = [r for r in Role if any(r == g for rule in TRANSITIONS for g, _ in rule.grants)]
    head = "| action | step | from | to | " + " | ".join(r.value for r in roles) + " |"
    sep = "|" + "---|" * (4 + len(roles))
    lines = [head, sep]
    for rule in TRANSITIONS:
        grants = {r: s for r, s in rule.grants}
        cells = ["✔" + _SCOPE_NOTE[grants[r]] if r in grants else "" for r in roles]
        frm = ", ".join(s.value for s in rule.from_states) if len(rule.from_states) < 8 else "any open state"
        to = rule.to_state.value if rule.to_state else "(see below)"
        lines.append(f"| `{rule.action}` | {rule.step} | {frm} | {to} | " + " | ".join(cells) + " |")
    lines += ["", "Requests (`request` with `kind`), who may ask:", ""]
    for kind, who in REQUEST_GRANTS.items():
        lines.append(f"- `{kind.value}`: {', '.join(sorted(r.value for r in who))}")
    lines += ["", "Statuses: " + ", ".join(f"`{s.value}`" for s in Status)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(workflow_markdown(), end="")
