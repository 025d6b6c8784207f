"""Admin: CSV import and export of master data, one page for every kind of
`portal.services.master_data` (companies, users, products, price list items, contract prices).

Check → preview → apply, as the finance imports: the check shows what the file would change and
nothing is written; the apply form sends the checked file's text back and applies it all or
nothing. Both forms are multipart, so the text travels as it is (a URL-encoded form of 20,000
products would pass the 4 MB form limit) and the web process keeps no state between the two
steps; `BODY_MAX` bounds them. Exports come as Excel opens them, English (comma, decimal dot)
or Polish (semicolon, decimal comma; `portal.web.downloads.Flavour`), and import back unchanged."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, Parameter
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_
from portal.services import imports, master_data, master_import, order_export
from portal.services.master_import import Report
from portal.web.context import PortalRequest, render, seller_today
from portal.web.downloads import Flavour, FlavourChoice, csv_download
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import Form, Text, Translated

BODY_MAX = 3 * master_import.MAX_FILE_BYTES
"""A request body larger than this is refused (413) before it is read: a file up to the limit,
or its text sent back (UTF-8 may take twice the bytes of a Windows-1250 file), fits with room."""
KindCode = Annotated[Text, msgspec.Meta(max_length=40)]
FileText = Annotated[Text, msgspec.Meta(max_length=master_import.MAX_FILE_BYTES)]
FileName = Annotated[Text, msgspec.Meta(max_length=255)]
Fingerprint = Annotated[str, msgspec.Meta(pattern=r"\A[0-9a-f]{0,64}\Z")]


class MasterUpload(Form):
    """What the file holds and the file."""

    messages: ClassVar[dict[str, str]] = Translated(
        {"kind": N_("Choose what the file holds."), "file": N_("Choose a CSV file.")}
    )
    kind: KindCode
    file: UploadFile | None = None

    async def content(self) -> bytes | None:
        """The file, at most one byte more than an import may have, so a larger one is told so, never cut."""
        return await self.file.read(master_import.MAX_FILE_BYTES + 1) if self.file is not None else None

    @property
    def file_name(self) -> str:
        return self.file.filename if self.file is not None else ""


class MasterApply(Form):
    """The checked file's text sent back, with what its check showed."""

    messages: ClassVar[dict[str, str]] = Translated(
        {
            "kind": N_("Choose what the file holds."),
            "content": N_("Nothing to import; choose the file and check it again."),
            "expected": N_("The form is out of date; check the file again."),
        }
    )
    kind: KindCode
    content: FileText
    file_name: FileName = ""
    expected: Fingerprint = ""


def imports_page(
    request: PortalRequest,
    report: Report | None = None,
    *,
    kind: str = "",
    file_name: str = "",
    refusal: Refusal | None = None,
) -> Template:
    """The import form with the limits stated up front; after a check, its report; after a refusal,
    the message next to its field."""
    status = refusal.status_code if refusal else 200 if report is None or report.ok else 400
    errors = dict(refusal.errors) if refusal else {}
    if report is not None and report.file_errors:
        errors["file"] = " ".join(report.file_errors)
    return render(
        request,
        "admin/imports/index.html",
        {
            "kinds": list(master_data.kinds().values()),
            "report": report,
            "kind": kind,
            "file_name": file_name,
            "errors": errors,
            "message": refusal.message if refusal and set(refusal.errors) - {"kind", "file"} else "",
            "size_limit": imports.size_limit(master_import.MAX_FILE_BYTES),
            "max_rows": master_import.MAX_ROWS,
            "flavours": list(Flavour),
        },
        status_code=status,
    )


async def imports_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """A refused check or import: the text sent back (if any) is checked again, so the page shows
    each row's problem as it stands now. Nothing was applied."""
    entered = refusal.entered
    kind, content, file_name = entered.get("kind"), entered.get("content"), entered.get("file_name")
    code = kind if isinstance(kind, str) else ""
    report = None
    if master_import.find(code) is not None and isinstance(content, str) and content:
        today = seller_today(request)
        report = await master_import.check(db_session, code, content, today=today)
    name = file_name if isinstance(file_name, str) else ""
    return imports_page(request, report, kind=code, file_name=name, refusal=refusal)


class MasterImportsController(Controller):
    path = "/admin"
    guards = [admins_only]

    @get("/imports", name="master_imports")
    async def imports_form(self, request: PortalRequest) -> Template:
        return imports_page(request)

    @post("/imports", name="check_master_import", opt={"form": imports_again}, request_max_body_size=BODY_MAX)
    async def check(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        data: Annotated[MasterUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        report = await master_import.check(db_session, data.kind, await data.content(), today=today)
        return imports_page(request, report, kind=data.kind, file_name=data.file_name)

    @post("/imports/apply", name="apply_master_import", opt={"form": imports_again}, request_max_body_size=BODY_MAX)
    async def apply(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        data: Annotated[MasterApply, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Redirect:
        applied = (data.kind, data.content)
        report = await master_import.apply_file(
            db_session, request.user, *applied, file_name=data.file_name, expected=data.expected, today=today
        )
        flash(request, master_import.imported(report), "success")
        return Redirect(request.app.route_reverse("master_imports"), status_code=303)

    @get("/exports/orders", name="order_export")
    async def export_orders(
        self,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        """The approved orders the ERP has not taken, one row per line; no order's status changes."""
        export = await order_export.approved_export(db_session, today=today)
        return csv_download(export.filename, export.header, export.rows, flavour=Flavour.chosen(flavour))

    @get("/exports/{kind:str}", name="master_export")
    async def export(
        self,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        kind: FromPath[Annotated[str, Parameter(max_length=40)]],
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        export = await master_import.export(db_session, kind, today=today)
        return csv_download(export.filename, export.header, export.rows, flavour=Flavour.chosen(flavour))
