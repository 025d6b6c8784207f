"""Finance: the credit overview, one company's credit (limit, hold, history),
the ageing report and the ERP imports; and the account manager's read-only view
of a customer's credit history.

Every form is a typed struct; a refused one comes back on its own page
(`opt={"form": ...}`) with the message next to its field and what was typed kept:
400 for a refusal, 409 when someone changed the company meanwhile."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.errors import NotFound
from portal.i18n import N_, gettext, ngettext
from portal.models import Role
from portal.services import ageing, credit, credit_control, imports, tasks
from portal.services.credit import CreditPicture
from portal.services.imports import ImportKind, ImportReport
from portal.settings import Settings
from portal.web.context import PortalRequest, render, settings_of
from portal.web.downloads import Flavour, FlavourChoice, cents, csv_download
from portal.web.errors import Refusal
from portal.web.guards import allow, finance_staff
from portal.web.inputs import MAX_ID, Form, Id, Money, PageNo, Text, Translated
from portal.web.scoping import sees_company

Reason = Annotated[Text, msgspec.Meta(max_length=credit_control.REASON_MAX)]
CustomerMessage = Annotated[Text, msgspec.Meta(max_length=credit_control.MESSAGE_MAX)]
FileText = Annotated[Text, msgspec.Meta(max_length=imports.MAX_FILE_BYTES)]


# Form bodies.
class LimitForm(Form):
    """A new credit limit, from the limit the user saw (`expected_limit`), with a reason (internal)
    and, optionally, a message for the customer's buyers."""

    messages: ClassVar[dict[str, str]] = Translated({"expected_limit": N_("The form is out of date; reload the page.")})
    expected_limit: Money
    new_limit: Money
    reason: Reason
    customer_message: CustomerMessage = ""


class ReasonForm(Form):
    """A hold or a release, with its reason."""

    reason: Reason


class ImportUpload(Form):
    """What the file holds and the file (multipart)."""

    messages: ClassVar[dict[str, str]] = Translated(
        {"kind": N_("Choose what the file holds: invoices or payments."), "file": N_("Choose one CSV file.")}
    )
    kind: ImportKind
    file: UploadFile | None = None

    async def content(self) -> bytes:
        """The file, at most one byte more than an import may have, so a larger one is told so, never cut."""
        return await self.file.read(imports.MAX_FILE_BYTES + 1) if self.file is not None else b""


class ImportApply(Form):
    """The checked file's text, sent back to be applied."""

    messages: ClassVar[dict[str, str]] = Translated(
        {
            "kind": N_("Choose what the file holds: invoices or payments."),
            "content": N_("Nothing to import; choose the file and check it again."),
        }
    )
    kind: ImportKind
    content: FileText


# Query values of the credit overview.
class Sort(enum.StrEnum):
    NAME = "name"
    LIMIT = "limit"
    EXPOSURE = "exposure"
    AVAILABLE = "available"
    UTILISATION = "utilisation"
    OVERDUE = "overdue"
    OLDEST_OVERDUE = "oldest_overdue"


class Show(enum.StrEnum):
    """The overview's filters (`credit.FILTERS`)."""

    HIGHLY_UTILISED = "highly_utilised"
    PAST_DUE = "past_due"
    ON_HOLD = "on_hold"


OVERVIEW_PAGE = 100
"""Companies per page of the credit overview (filtered and sorted over all of them first)."""


@dataclass(frozen=True)
class OverviewQuery:
    sort: Sort = Sort.NAME
    descending: bool = False
    show: Show | None = None
    page: int = 1

    def params(self, **changes: object) -> dict[str, object]:
        """The query as URL parameters, with some changed (the pages' links)."""
        values: dict[str, object] = {
            "show": self.show or "",
            "sort": self.sort.value if self.sort is not Sort.NAME else "",
            "direction": "desc" if self.descending else "",
            "page": self.page,
        }
        values.update(changes)
        return values

    def next_direction(self, key: str) -> str:
        """Clicking the sorted column turns it round; another column starts A→Z by name, largest first otherwise."""
        if key == self.sort:
            return "asc" if self.descending else "desc"
        return "asc" if key == Sort.NAME else "desc"


def overview_query(
    sort: FromQuery[Sort] = Sort.NAME,
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    show: FromQuery[Show | None] = None,
    page: FromQuery[PageNo] = 1,
) -> OverviewQuery:
    """?sort=exposure&direction=desc&show=past_due&page=2; an unknown value is a 400 page that names it."""
    return OverviewQuery(sort=sort, descending=direction == "desc", show=show, page=page)


@dataclass(frozen=True)
class Overview:
    """The credit overview as shown: one page of the chosen pictures, in the chosen order, of how
    many match and how many there are."""

    pictures: list[CreditPicture]
    matching: int
    total: int
    query: OverviewQuery

    @property
    def pages(self) -> int:
        return max(1, -(-self.matching // OVERVIEW_PAGE))

    @property
    def previous_page(self) -> int | None:
        return self.query.page - 1 if self.query.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.query.page + 1 if self.query.page < self.pages else None


def overview(pictures: list[CreditPicture], query: OverviewQuery) -> Overview:
    shown = credit.sort_pictures(credit.filter_pictures(pictures, query.show or ""), query.sort, query.descending)
    pages = max(1, -(-len(shown) // OVERVIEW_PAGE))
    query = replace(query, page=min(query.page, pages))  # past the end: the last page
    first = (query.page - 1) * OVERVIEW_PAGE
    return Overview(shown[first : first + OVERVIEW_PAGE], len(shown), len(pictures), query)


def _finance_context(**context: Any) -> dict[str, Any]:
    """What every credit page states the same way: the utilisation threshold, the longest reason and message."""
    return {
        "high_utilisation_pct": credit.HIGH_UTILISATION_PCT,
        "reason_max": credit_control.REASON_MAX,
        "message_max": credit_control.MESSAGE_MAX,
        **context,
    }


# The company page and the pages of its refused forms.
FORMS = {"change_limit": "limit", "hold_account": "hold", "release_account": "release"}
"""Route → the form of the company page it posts, whose fields' errors are named `<form>_<field>`."""


async def company_page(
    request: PortalRequest,
    db_session: AsyncSession,
    company_id: int,
    *,
    today: date,
    grace_days: int,
    refusal: Refusal | None = None,
) -> Template:
    """The company's credit; after a refusal, the message next to its field in the form that was sent."""
    if not 1 <= company_id <= MAX_ID:
        raise NotFound()
    details = await credit_control.company_credit(db_session, company_id, today=today, grace_days=grace_days)
    form = FORMS.get(request.route_handler.name or "", "")
    errors = {_error_key(form, field): message for field, message in (refusal.errors if refusal else {}).items()}
    entered = {
        f"{form}_{name}": value
        for name, value in (refusal.entered if refusal else {}).items()
        if isinstance(value, str)
    }
    return render(
        request,
        "finance/company.html",
        _finance_context(
            account=details.account, picture=details.picture, history=details.history, errors=errors, entered=entered
        ),
        status_code=refusal.status_code if refusal else 200,
    )


def _error_key(form: str, field: str) -> str:
    """The limit form shows its own form-wide messages (a stale limit); a hold or release that
    someone else did first is said above both forms, since the other form is shown now."""
    if field in ("", "expected_limit"):
        return "limit_form" if form == "limit" else "page"
    return f"{form}_{field}"


async def company_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    settings = settings_of(request)
    return await company_page(
        request,
        db_session,
        request.path_params["company_id"],
        today=clock.today(settings.seller_zone),
        grace_days=settings.past_due_grace_days,
        refusal=refusal,
    )


def _to_company(request: PortalRequest, company_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("finance_company", company_id=company_id), status_code=303)


# The import page and the page of a refused import.
def imports_page(
    request: PortalRequest, report: ImportReport | None = None, *, kind: str = "", refusal: Refusal | None = None
) -> Template:
    """The import form with the limits stated up front; after a check, its report; after a
    refusal, the message next to its field."""
    status = refusal.status_code if refusal else 200 if report is None or report.ok else 400
    errors = dict(refusal.errors) if refusal else {}
    if report is not None and report.file_errors:
        errors.setdefault("file", " ".join(report.file_errors))
    return render(
        request,
        "finance/imports.html",
        {
            "report": report,
            "kind": kind,
            "errors": errors,
            "message": refusal.message if refusal else "",
            "size_limit": imports.size_limit(),
            "max_rows": imports.MAX_ROWS,
        },
        status_code=status,
    )


async def imports_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """A refused check or import: the file sent back (if any) is checked again, so the page
    shows each row's problem as it stands now. Nothing was applied."""
    kinds = {kind.value: kind for kind in ImportKind}
    kind, content = refusal.entered.get("kind"), refusal.entered.get("content")
    report = None
    if isinstance(kind, str) and kind in kinds and isinstance(content, str) and content:
        today = clock.today(settings_of(request).seller_zone)
        report = await imports.check_import(db_session, kinds[kind], content, today=today)
    return imports_page(request, report, kind=kind if isinstance(kind, str) else "", refusal=refusal)


def _imported(kind: ImportKind, report: ImportReport) -> str:
    new, unchanged = report.count(imports.Outcome.NEW), report.count(imports.Outcome.UNCHANGED)
    if kind is ImportKind.INVOICES:
        imported = ngettext("Imported %(num)d invoice.", "Imported %(num)d invoices.", new) % {"num": new}
        kept = ngettext(
            "%(num)d invoice was already there unchanged.", "%(num)d invoices were already there unchanged.", unchanged
        ) % {"num": unchanged}
    else:
        imported = ngettext("Imported %(num)d payment.", "Imported %(num)d payments.", new) % {"num": new}
        kept = ngettext(
            "%(num)d payment was already there unchanged.", "%(num)d payments were already there unchanged.", unchanged
        ) % {"num": unchanged}
    return f"{imported} {kept}"


def ageing_rows(report: ageing.AgeingReport) -> list[list[object]]:
    return [
        [
            row.company.name if row.company else gettext("Total"),
            row.company.tax_id if row.company else "",
            row.currency,
            *[cents(value) for value in row.buckets],
            cents(row.total),
        ]
        for row in report.rows + report.totals
    ]


def ageing_header() -> list[str]:
    return [
        gettext("Company"),
        gettext("Tax id"),
        gettext("Currency"),
        gettext("Not due"),
        "1-30",
        "31-60",
        "61-90",
        gettext("Over 90"),
        gettext("Total"),
    ]


class FinanceController(Controller):
    path = "/finance"
    guards = [finance_staff]

    @get("/", name="finance_home", dependencies={"wanted": Provide(overview_query, sync_to_thread=False)})
    async def overview(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        wanted: NamedDependency[OverviewQuery],
    ) -> Template:
        pictures = await credit.credit_pictures(db_session, today=today, grace_days=settings.past_due_grace_days)
        my_day = await tasks.my_day(db_session, request.user, today) if request.user.role is Role.FINANCE else None
        return render(
            request, "home/finance.html", _finance_context(overview=overview(pictures, wanted), my_day=my_day)
        )

    @get("/companies/{company_id:int}", name="finance_company")
    async def company(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Template:
        return await company_page(request, db_session, company_id, today=today, grace_days=settings.past_due_grace_days)

    @post("/companies/{company_id:int}/limit", name="change_limit", opt={"form": company_again})
    async def change_limit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[LimitForm],
    ) -> Redirect:
        change = (data.expected_limit, data.new_limit, data.reason, data.customer_message)
        await credit_control.change_limit(db_session, request.user, company_id, *change)
        return _to_company(request, company_id, gettext("Credit limit changed."))

    @post("/companies/{company_id:int}/hold", name="hold_account", opt={"form": company_again})
    async def hold(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[ReasonForm],
    ) -> Redirect:
        await credit_control.hold_account(db_session, request.user, company_id, data.reason)
        return _to_company(request, company_id, gettext("Account put on hold."))

    @post("/companies/{company_id:int}/release", name="release_account", opt={"form": company_again})
    async def release(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[ReasonForm],
    ) -> Redirect:
        await credit_control.release_account(db_session, request.user, company_id, data.reason)
        return _to_company(request, company_id, gettext("Account released."))

    @get("/ageing", name="ageing")
    async def ageing(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], today: NamedDependency[date]
    ) -> Template:
        report = await ageing.ageing_report(db_session, today=today)
        return render(request, "finance/ageing.html", {"report": report})

    @get("/ageing.csv", name="ageing_csv")
    async def ageing_csv(
        self, db_session: NamedDependency[AsyncSession], today: NamedDependency[date], flavour: FlavourChoice = None
    ) -> Response[bytes]:
        report = await ageing.ageing_report(db_session, today=today)
        name = f"ageing-{report.today.isoformat()}.csv"
        return csv_download(name, ageing_header(), ageing_rows(report), flavour=Flavour.chosen(flavour))

    @get("/imports", name="imports")
    async def imports_form(self, request: PortalRequest) -> Template:
        return imports_page(request)

    @post("/imports", name="check_import", opt={"form": imports_again})
    async def check_import(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        data: Annotated[ImportUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        report = await imports.check_import(db_session, data.kind, await data.content(), today=today)
        return imports_page(request, report, kind=data.kind)

    @post("/imports/apply", name="apply_import", opt={"form": imports_again})
    async def apply_import(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        data: URLEncodedBody[ImportApply],
    ) -> Redirect:
        report = await imports.apply_import(db_session, data.kind, data.content, request.user, today=today)
        flash(request, _imported(data.kind, report), "success")
        return Redirect(request.app.route_reverse("imports"), status_code=303)


class CustomerCreditController(Controller):
    """The account manager's read-only view of the credit of a customer they see (their own, or one
    they cover; `sees_company`)."""

    path = "/customers"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN)]

    @get("/{company_id:int}/credit", guards=[sees_company()], name="customer_credit")
    async def credit_history(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Template:
        details = await credit_control.customer_credit(
            db_session, request.user, company_id, today=today, grace_days=settings.past_due_grace_days
        )
        return render(
            request, "finance/customer_credit.html", _finance_context(picture=details.picture, history=details.history)
        )
