"""Finance: the credit overview, one company's credit (limit, hold, history),
the ageing report and the ERP imports; and the account manager's read-only view
of a customer's credit history."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import Annotated

from portal.i18n import gettext
from portal.models import Company, Role
from portal.services import ageing, credit, credit_control, customers, imports, statement
from portal.services.amounts import parse_amount
from portal.services.credit_control import CreditControlError
from portal.services.imports import ImportKind, ImportRefused
from portal.web.context import PortalRequest, seller_today, settings_of
from portal.web.downloads import csv_download
from portal.web.guards import allow, finance_staff

MAX_UPLOAD = 2_000_000


def _text(data: dict[str, Any], name: str) -> str:
    return str(data.get(name, "") or "").strip()


async def _company_page(
    request: PortalRequest, db_session: AsyncSession, company_id: int, *, errors: dict[str, str] | None = None,
    entered: dict[str, str] | None = None, status_code: int = 200,
) -> Template:
    if await db_session.get(Company, company_id) is None:
        raise NotFoundException()
    account = await statement.account_statement(
        db_session, company_id, today=seller_today(request), grace_days=settings_of(request).past_due_grace_days
    )
    history = await credit_control.credit_history(db_session, company_id)
    return Template(
        "finance/company.html",
        context={"account": account, "picture": account.picture, "history": history, "errors": errors or {},
                 "entered": entered or {}},
        status_code=status_code,
    )


class FinanceController(Controller):
    path = "/finance"
    guards = [finance_staff]

    @get("/", name="finance_home")
    async def overview(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
        sort: FromQuery[str] = "name", direction: FromQuery[str] = "asc", show: FromQuery[str] = "",
    ) -> Template:
        sort = sort if sort in credit.SORT_KEYS else "name"
        show = show if show in credit.FILTERS else ""
        descending = direction == "desc"
        pictures = await credit.credit_pictures(
            db_session, today=seller_today(request), grace_days=settings_of(request).past_due_grace_days
        )
        shown = credit.sort_pictures(credit.filter_pictures(pictures, show), sort, descending)
        return Template(
            "home/finance.html",
            context={"pictures": shown, "sort": sort, "descending": descending, "show": show,
                     "total": len(pictures)},
        )

    @get("/companies/{company_id:int}", name="finance_company")
    async def company(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int]
    ) -> Template:
        return await _company_page(request, db_session, company_id)

    @post("/companies/{company_id:int}/limit", name="change_limit")
    async def change_limit(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        entered = {"new_limit": _text(data, "new_limit"), "limit_reason": _text(data, "reason")}
        expected, new = parse_amount(_text(data, "expected_limit")), parse_amount(entered["new_limit"])
        try:
            if expected is None:
                raise credit_control.ChangedMeanwhile(gettext("The form is out of date; reload the page."))
            if new is None:
                raise CreditControlError(gettext("Enter the new limit as an amount, e.g. 50000.00."), "new_limit")
            await credit_control.change_limit(db_session, request.user, company_id, expected, new, entered["limit_reason"])
        except LookupError:
            raise NotFoundException() from None
        except CreditControlError as refused:
            key = "limit_" + (refused.field or "form")
            status = 409 if isinstance(refused, credit_control.ChangedMeanwhile) else 400
            return await _company_page(request, db_session, company_id, errors={key: refused.message},
                                       entered=entered, status_code=status)
        await db_session.commit()
        flash(request, gettext("Credit limit changed."), "success")
        return Redirect(f"/finance/companies/{company_id}", status_code=303)

    @post("/companies/{company_id:int}/hold", name="hold_account")
    async def hold(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        return await self._hold_or_release(request, db_session, company_id, data, "hold")

    @post("/companies/{company_id:int}/release", name="release_account")
    async def release(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        return await self._hold_or_release(request, db_session, company_id, data, "release")

    async def _hold_or_release(
        self, request: PortalRequest, db_session: AsyncSession, company_id: int, data: dict[str, Any], action: str
    ) -> Template | Redirect:
        reason = _text(data, "reason")
        change = credit_control.hold_account if action == "hold" else credit_control.release_account
        try:
            await change(db_session, request.user, company_id, reason)
        except LookupError:
            raise NotFoundException() from None
        except CreditControlError as refused:
            if isinstance(refused, credit_control.ChangedMeanwhile):
                # The other form is on the page now: the message goes above both.
                return await _company_page(request, db_session, company_id, errors={"page": refused.message},
                                           status_code=409)
            return await _company_page(request, db_session, company_id, errors={f"{action}_reason": refused.message},
                                       entered={f"{action}_reason": reason}, status_code=400)
        await db_session.commit()
        flash(request, gettext("Account put on hold.") if action == "hold" else gettext("Account released."), "success")
        return Redirect(f"/finance/companies/{company_id}", status_code=303)

    @get("/ageing", name="ageing")
    async def ageing(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        report = await ageing.ageing_report(db_session, today=seller_today(request))
        return Template("finance/ageing.html", context={"report": report})

    @get("/ageing.csv", name="ageing_csv")
    async def ageing_csv(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Response[bytes]:
        report = await ageing.ageing_report(db_session, today=seller_today(request))
        header = [gettext("Company"), gettext("Tax id"), gettext("Currency"), gettext("Not due"), "1-30", "31-60",
                  "61-90", gettext("Over 90"), gettext("Total")]
        rows = [[row.company.name if row.company else gettext("Total"), row.company.tax_id if row.company else "",
                 row.currency, *[f"{value:.2f}" for value in row.buckets], f"{row.total:.2f}"]
                for row in report.rows + report.totals]
        return csv_download(f"ageing-{report.today.isoformat()}.csv", header, rows)

    @get("/imports", name="imports")
    async def imports_form(self) -> Template:
        return Template("finance/imports.html", context={"report": None, "kind": "", "content": ""})

    @post("/imports", name="check_import")
    async def check_import(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        kind_text = _text(data, "kind")
        upload = data.get("file")
        content = await upload.read(MAX_UPLOAD + 1) if isinstance(upload, UploadFile) else b""
        errors: dict[str, str] = {}
        if kind_text not in set(ImportKind):
            errors["kind"] = gettext("Choose what the file holds: invoices or payments.")
        if not content:
            errors["file"] = gettext("Choose a CSV file.")
        elif len(content) > MAX_UPLOAD:
            errors["file"] = gettext("The file is larger than 2 MB; split it.")
        if errors:
            return Template("finance/imports.html", context={"report": None, "kind": kind_text, "content": "",
                                                             "errors": errors}, status_code=400)
        report = await imports.check_import(db_session, ImportKind(kind_text), content, today=seller_today(request))
        return Template(
            "finance/imports.html",
            context={"report": report, "kind": kind_text, "content": content.decode("utf-8-sig") if report.ok else ""},
            status_code=200 if report.ok else 400,
        )

    @post("/imports/apply", name="apply_import")
    async def apply_import(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Template | Redirect:
        kind_text, content = _text(data, "kind"), str(data.get("content", "") or "")
        if kind_text not in set(ImportKind) or not content or len(content) > MAX_UPLOAD:
            flash(request, gettext("Nothing to import; choose the file again."), "error")
            return Redirect("/finance/imports", status_code=303)
        kind = ImportKind(kind_text)
        try:
            report = await imports.apply_import(db_session, kind, content.encode("utf-8"), request.user,
                                                today=seller_today(request))
        except imports.ImportInterrupted:
            flash(request, gettext("The data changed while the file was being imported, so nothing was applied. "
                                   "Check the file again."), "error")
            return Redirect("/finance/imports", status_code=303)
        except ImportRefused as refused:
            return Template("finance/imports.html", context={"report": refused.report, "kind": kind_text, "content": ""},
                            status_code=400)
        await db_session.commit()
        new, unchanged = report.count(imports.Outcome.NEW), report.count(imports.Outcome.UNCHANGED)
        message = (gettext("Imported %(new)d invoices; %(unchanged)d were already there unchanged.")
                   if kind is ImportKind.INVOICES else
                   gettext("Imported %(new)d payments; %(unchanged)d were already there unchanged."))
        flash(request, message % {"new": new, "unchanged": unchanged}, "success")
        return Redirect("/finance/imports", status_code=303)


class CustomerCreditController(Controller):
    """The account manager's read-only view of an assigned customer's credit."""

    path = "/customers"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN)]

    @get("/{company_id:int}/credit", name="customer_credit")
    async def credit_history(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int]
    ) -> Template:
        company = await customers.viewable_company(db_session, request.user, company_id)
        if company is None:
            raise NotFoundException()
        picture = await credit.credit_picture(
            db_session, company.id, today=seller_today(request), grace_days=settings_of(request).past_due_grace_days
        )
        history = await credit_control.credit_history(db_session, company.id)
        return Template("finance/customer_credit.html", context={"picture": picture, "history": history})
