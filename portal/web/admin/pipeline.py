"""Admin: the pipeline's settings on one page: the lost reasons (add, rename, retire or offer
again, move up or down) and the chance of winning at each stage (`services/pipeline_settings.py`).
A refused form comes back on the page with its message next to the field and what was typed."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, gettext
from portal.models import Stage
from portal.services import pipeline_settings
from portal.web.context import PortalRequest, render
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import Form, Id, Money, Text, Translated

Label = Annotated[Text, msgspec.Meta(max_length=pipeline_settings.LABEL_MAX)]
PERCENT_MESSAGE = N_("Enter a percentage from 0 to 100, with at most 2 decimals.")


class LostReasonForm(Form):
    label: Label


class MoveForm(Form):
    messages: ClassVar[dict[str, str]] = Translated({"direction": N_("Choose up or down.")})
    direction: Literal["up", "down"]


class ProbabilitiesForm(Form):
    messages: ClassVar[dict[str, str]] = Translated({stage.value: PERCENT_MESSAGE for stage in Stage})
    lead: Money
    qualified: Money
    offer: Money
    negotiation: Money

    def percentages(self) -> dict[Stage, Decimal]:
        return {stage: Decimal(getattr(self, stage.value)) for stage in pipeline_settings.EDITABLE_STAGES}


REASON_FORMS = ("rename_lost_reason",)


async def pipeline_page(request: PortalRequest, db_session: AsyncSession, refusal: Refusal | None = None) -> Template:
    """The settings; after a refusal, its message at the form it came from."""
    route = request.route_handler.name if refusal else None
    typed = {k: v for k, v in refusal.entered.items() if isinstance(v, str)} if refusal else {}
    errors = refusal.errors if refusal else {}
    percent = await pipeline_settings.probabilities(db_session)
    context = {
        "reasons": await pipeline_settings.lost_reasons(db_session),
        "stages": [(stage, percent[stage]) for stage in Stage],
        "editable": pipeline_settings.EDITABLE_STAGES,
        "add_errors": errors if route == "add_lost_reason" else {},
        "add_typed": typed if route == "add_lost_reason" else {},
        "renaming": request.path_params.get("reason_id") if route in REASON_FORMS else None,
        "rename_errors": errors if route in REASON_FORMS else {},
        "rename_typed": typed if route in REASON_FORMS else {},
        "percent_errors": errors if route == "save_stage_probabilities" else {},
        "percent_typed": typed if route == "save_stage_probabilities" else {},
        "label_max": pipeline_settings.LABEL_MAX,
    }
    return render(request, "admin/pipeline.html", context, status_code=refusal.status_code if refusal else 200)


async def pipeline_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await pipeline_page(request, db_session, refusal)


def _back(request: PortalRequest, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("admin_pipeline"), status_code=303)


class PipelineSettingsController(Controller):
    path = "/admin/pipeline"
    guards = [admins_only]

    @get("/", name="admin_pipeline")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await pipeline_page(request, db_session)

    @post("/lost-reasons", name="add_lost_reason", opt={"form": pipeline_again})
    async def add_reason(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[LostReasonForm]
    ) -> Redirect:
        reason = await pipeline_settings.add_lost_reason(db_session, request.user, data.label)
        return _back(request, gettext("Lost reason “%(label)s” added.") % {"label": reason.label})

    @post("/lost-reasons/{reason_id:int}", name="rename_lost_reason", opt={"form": pipeline_again})
    async def rename_reason(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        reason_id: FromPath[Id],
        data: URLEncodedBody[LostReasonForm],
    ) -> Redirect:
        await pipeline_settings.rename_lost_reason(db_session, request.user, reason_id, data.label)
        return _back(request, gettext("Lost reason renamed."))

    @post("/lost-reasons/{reason_id:int}/retire", name="retire_lost_reason", opt={"form": pipeline_again})
    async def retire_reason(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], reason_id: FromPath[Id]
    ) -> Redirect:
        reason = await pipeline_settings.set_lost_reason_active(db_session, request.user, reason_id, False)
        return _back(request, gettext("“%(label)s” is no longer offered.") % {"label": reason.label})

    @post("/lost-reasons/{reason_id:int}/reactivate", name="reactivate_lost_reason", opt={"form": pipeline_again})
    async def reactivate_reason(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], reason_id: FromPath[Id]
    ) -> Redirect:
        reason = await pipeline_settings.set_lost_reason_active(db_session, request.user, reason_id, True)
        return _back(request, gettext("“%(label)s” is offered again.") % {"label": reason.label})

    @post("/lost-reasons/{reason_id:int}/move", name="move_lost_reason", opt={"form": pipeline_again})
    async def move_reason(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        reason_id: FromPath[Id],
        data: URLEncodedBody[MoveForm],
    ) -> Redirect:
        await pipeline_settings.move_lost_reason(db_session, request.user, reason_id, data.direction)
        return _back(request, gettext("Lost reasons reordered."))

    @post("/probabilities", name="save_stage_probabilities", opt={"form": pipeline_again})
    async def save_probabilities(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[ProbabilitiesForm]
    ) -> Redirect:
        await pipeline_settings.set_probabilities(db_session, request.user, data.percentages())
        return _back(request, gettext("Stage probabilities saved."))
