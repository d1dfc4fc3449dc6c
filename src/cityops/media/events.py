"""Typed events of the evidence domain; defined with the others in cityops.realtime.events (one closed union)."""

from __future__ import annotations

from cityops.realtime.events import EvidenceAttached

__all__ = ["EvidenceAttached"]
