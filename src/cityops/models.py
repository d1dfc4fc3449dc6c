"""Imports every model module so that Base.metadata knows all tables (Alembic, tests)."""

from cityops.audit import models as audit_models
from cityops.auth import models as auth_models
from cityops.case import models as case_models
from cityops.catalog import models as catalog_models
from cityops.evaluation import models as evaluation_models
from cityops.geo import models as geo_models
from cityops.media import models as media_models
from cityops.open311 import models as open311_models
from cityops.org import models as org_models
from cityops.tracking import models as tracking_models

__all__ = ["audit_models", "auth_models", "case_models", "catalog_models", "evaluation_models", "geo_models",
           "media_models",
           "open311_models", "org_models", "tracking_models"]
