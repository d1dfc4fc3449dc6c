"""Field tracking and dispatch (勤务定位与调度): devices, OsmAnd ingest, officer status, arrival, recommendation,
patrol coverage and road-segment state (路段治理状态)."""
