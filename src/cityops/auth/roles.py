"""Roles of a city-management bureau and the public."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    INSPECTOR = "inspector"  # 监督员: reports problems, verifies (核实) and checks (核查) on site
    INTAKE = "intake"  # 受理员: registers reports, sends inspectors to verify
    SHIFT_LEAD = "shift_lead"  # 值班长: files (立案) or voids, closes (结案) or orders rework (返工), approves
    DISPATCHER = "dispatcher"  # 派遣员: dispatches (派遣) filed cases to departments/officers
    DEPARTMENT = "department"  # 专业部门 staff: assign their own officers, request return/extension
    OFFICER = "officer"  # 执法队员: accepts, goes, arrives, handles, feeds back
    COMMANDER = "commander"  # 指挥长: supervises, escalates (督办), approves
    RESIDENT = "resident"  # 公众: reports and follows their own cases
    ADMIN = "admin"  # manages users, catalog, geography
    DEVICE = "device"  # a tracker phone or body camera acting for its officer


STAFF_ROLES = frozenset(Role) - {Role.RESIDENT, Role.DEVICE}
CASE_READERS = frozenset(
    {
        Role.INSPECTOR,
        Role.INTAKE,
        Role.SHIFT_LEAD,
        Role.DISPATCHER,
        Role.DEPARTMENT,
        Role.OFFICER,
        Role.COMMANDER,
        Role.ADMIN,
    }
)
