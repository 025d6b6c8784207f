"""The admin's pages under `/admin`: master data without SQL. Each module holds one area's
controller; `ADMIN_CONTROLLERS` is what the app registers."""

from __future__ import annotations

from portal.web.admin.agreements import AgreementsController
from portal.web.admin.api_keys import ApiKeysController
from portal.web.admin.audit import AuditController
from portal.web.admin.catalogue import CatalogueController
from portal.web.admin.companies import CompaniesController
from portal.web.admin.imports import MasterImportsController
from portal.web.admin.people import PeopleController, PublicAccessController

ADMIN_CONTROLLERS = [
    AgreementsController,
    ApiKeysController,
    AuditController,
    CatalogueController,
    CompaniesController,
    MasterImportsController,
    PeopleController,
    PublicAccessController,
]
