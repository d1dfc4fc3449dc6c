"""Imports every model module so that Base.metadata knows all tables (Alembic, tests)."""

from cityops.audit import models as audit_models
from cityops.auth import models as auth_models
from cityops.case import models as case_models
from cityops.catalog import models as catalog_models
from cityops.geo import models as geo_models
from cityops.org import models as org_models

__all__ = ["audit_models", "auth_models", "case_models", "catalog_models", "geo_models", "org_models"]
