"""The reports under `/reports` for admins and finance (every customer) and account managers
(their portfolio, covered customers marked): customer profitability, cost to serve, repeat and
regularity, retention by cohort, account manager effectiveness. They read the worker's summary
(`services/report_summary.py`) through `services/reports.py`."""

from __future__ import annotations

from portal.web.reports.cost_to_serve import CostToServeController
from portal.web.reports.index import ReportsController
from portal.web.reports.managers import ManagersReportController
from portal.web.reports.profitability import ProfitabilityController
from portal.web.reports.regularity import RegularityController
from portal.web.reports.retention import RetentionController
from portal.web.reports.settings import ReportSettingsController

REPORT_CONTROLLERS = [
    ReportsController,
    ProfitabilityController,
    CostToServeController,
    RegularityController,
    RetentionController,
    ManagersReportController,
    ReportSettingsController,
]
