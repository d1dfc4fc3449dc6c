"""Open311 GeoReport v2 adapter: lets 311 apps, CRMs and FixMyStreet report and follow cases (see docs/open311.md)."""
