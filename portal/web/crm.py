"""Contacts and the activity log, for staff: a customer's (or a prospect's) people, added from its
page and edited, retired, reactivated or deleted on a page of their own; calls, meetings, visits
and e-mails logged from the same page.

Any member of staff who sees the customer or the prospect (`portal.web.scoping`) keeps its
contacts and logs activities; a buyer is kept out by the role guard (403). A refused form shows
its page again with the message next to the field and what was typed."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, ClassVar

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import N_, gettext
from portal.models import ActivityKind, Role
from portal.services import activities, contacts
from portal.services.contacts import ContactDetails, Owner
from portal.web.context import PortalRequest, settings_of
from portal.web.customers import customer_page_again
from portal.web.errors import Refusal
from portal.web.guards import allow
from portal.web.inputs import Day, Flag, Form, FormId, Id, Text, Translated, path_id
from portal.web.prospects import prospect_page_again
from portal.web.scoping import sees_company, sees_crm, sees_prospect

STAFF = allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)
CLOCK_TIME = r"\A([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?\Z"
PIPELINE_PATH = "/pipeline"
"""Where a prospect's contact or activity leads back to while the portal has no prospect page."""


class ContactForm(Form):
    full_name: Annotated[Text, msgspec.Meta(max_length=contacts.NAME_MAX)] = ""
    position: Annotated[Text, msgspec.Meta(max_length=contacts.POSITION_MAX)] = ""
    phone: Annotated[Text, msgspec.Meta(max_length=contacts.PHONE_MAX)] = ""
    email: Annotated[Text, msgspec.Meta(max_length=contacts.EMAIL_MAX)] = ""
    notes: Annotated[Text, msgspec.Meta(max_length=contacts.NOTES_MAX)] = ""
    user_id: FormId | None = None
    primary_purchasing: Flag | None = None
    primary_payables: Flag | None = None

    messages: ClassVar[dict[str, str]] = Translated({"user_id": N_("Choose one of this customer's portal users.")})

    def details(self) -> ContactDetails:
        return ContactDetails(
            full_name=self.full_name,
            position=self.position,
            phone=self.phone,
            email=self.email,
            notes=self.notes,
            user_id=self.user_id,
            primary_purchasing=self.primary_purchasing is not None,
            primary_payables=self.primary_payables is not None,
        )


class ActivityForm(Form):
    kind: ActivityKind
    happened_on: Day | None = None
    happened_time: Annotated[str, msgspec.Meta(pattern=CLOCK_TIME)] | None = None
    contact_id: FormId | None = None
    summary: Annotated[Text, msgspec.Meta(max_length=activities.SUMMARY_MAX)] = ""
    outcome: Annotated[Text, msgspec.Meta(max_length=activities.OUTCOME_MAX)] = ""

    messages: ClassVar[dict[str, str]] = Translated(
        {
            "kind": N_("Choose a call, a meeting, a visit or an e-mail."),
            "happened_time": N_("Enter the time as HH:MM, such as 14:30."),
            "contact_id": N_("Choose one of the listed contacts."),
        }
    )

    def entry(self) -> activities.NewActivity:
        at = time.fromisoformat(self.happened_time) if self.happened_time else None
        return activities.NewActivity(
            kind=self.kind,
            summary=self.summary,
            day=self.happened_on,
            at=at.replace(second=0) if at else None,
            contact_id=self.contact_id,
            outcome=self.outcome,
        )


# --- where each form leads back to -------------------------------------------------------------


def owner_page(request: PortalRequest, owner: Owner, anchor: str = "") -> str:
    """The customer's page, or the prospect's (while the portal has none: the pipeline)."""
    if owner.company_id is not None:
        path = request.app.route_reverse("customer", company_id=owner.company_id)
    elif request.app.get_handler_index_by_name("prospect") is not None:
        path = request.app.route_reverse("prospect", prospect_id=owner.prospect_id)
    else:
        return PIPELINE_PATH
    return f"{path}#{anchor}" if anchor else path


def _back(request: PortalRequest, owner: Owner, anchor: str) -> Redirect:
    return Redirect(owner_page(request, owner, anchor), status_code=303)


async def contact_page(
    request: PortalRequest, db_session: AsyncSession, contact_id: int, refusal: Refusal | None = None
) -> Template:
    """A contact's own page: the form to change what is known of them, retire, reactivate, delete."""
    page = await contacts.contact_page(db_session, contact_id)
    entered: dict[str, Any] = refusal.entered if refusal else {}
    context = {
        "page": page,
        "contact": page.contact,
        "back": owner_page(request, page.owner, "contacts"),
        "errors": refusal.errors if refusal else {},
        "typed": {key: value for key, value in entered.items() if isinstance(value, str)},
        "refused": bool(refusal),
    }
    return Template("crm/contact_edit.html", context=context, status_code=refusal.status_code if refusal else 200)


async def contact_page_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await contact_page(request, db_session, path_id(request.path_params.get("contact_id")), refusal)


# --- controllers --------------------------------------------------------------------------------


class CustomerCrmController(Controller):
    """A customer's contacts and activities, added from the customer page."""

    path = "/customers"
    guards = [STAFF]

    @post("/{company_id:int}/contacts", guards=[sees_company()], name="add_contact", opt={"form": customer_page_again})
    async def add_contact(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[ContactForm],
    ) -> Redirect:
        contact = await contacts.add_contact(db_session, request.user, data.details(), company_id=company_id)
        flash(request, gettext("%(name)s added to the contacts.") % {"name": contact.full_name}, "success")
        return _back(request, Owner(company_id=company_id), "contacts")

    @post(
        "/{company_id:int}/activities", guards=[sees_company()], name="log_activity", opt={"form": customer_page_again}
    )
    async def log_activity(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[ActivityForm],
    ) -> Redirect:
        zone = settings_of(request).seller_zone
        await activities.log_activity(
            db_session, request.user, data.entry(), now=clock.now(), zone=zone, company_id=company_id
        )
        flash(request, gettext("Activity logged."), "success")
        return _back(request, Owner(company_id=company_id), "customer-timeline")


class ProspectCrmController(Controller):
    """A prospect's contacts and activities, added from the prospect's page."""

    path = "/prospects"
    guards = [STAFF]

    @post(
        "/{prospect_id:int}/contacts",
        guards=[sees_prospect()],
        name="add_prospect_contact",
        opt={"form": prospect_page_again},
    )
    async def add_contact(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        prospect_id: FromPath[Id],
        data: URLEncodedBody[ContactForm],
    ) -> Redirect:
        contact = await contacts.add_contact(db_session, request.user, data.details(), prospect_id=prospect_id)
        flash(request, gettext("%(name)s added to the contacts.") % {"name": contact.full_name}, "success")
        return _back(request, Owner(prospect_id=prospect_id), "contacts")

    @post(
        "/{prospect_id:int}/activities",
        guards=[sees_prospect()],
        name="log_prospect_activity",
        opt={"form": prospect_page_again},
    )
    async def log_activity(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        prospect_id: FromPath[Id],
        data: URLEncodedBody[ActivityForm],
    ) -> Redirect:
        zone = settings_of(request).seller_zone
        await activities.log_activity(
            db_session, request.user, data.entry(), now=clock.now(), zone=zone, prospect_id=prospect_id
        )
        flash(request, gettext("Activity logged."), "success")
        return _back(request, Owner(prospect_id=prospect_id), "activities")


class ContactsController(Controller):
    """One contact's page and its changes; every route names a contact the user sees (`sees_crm`)."""

    path = "/contacts"
    guards = [STAFF]

    @get("/{contact_id:int}/edit", guards=[sees_crm("contact", "contact_id")], name="contact_edit")
    async def edit_form(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], contact_id: FromPath[Id]
    ) -> Template:
        return await contact_page(request, db_session, contact_id)

    @post(
        "/{contact_id:int}/edit",
        guards=[sees_crm("contact", "contact_id")],
        name="edit_contact",
        opt={"form": contact_page_again},
    )
    async def edit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        contact_id: FromPath[Id],
        data: URLEncodedBody[ContactForm],
    ) -> Redirect:
        contact = await contacts.edit_contact(db_session, request.user, contact_id, data.details())
        flash(request, gettext("Changes to %(name)s saved.") % {"name": contact.full_name}, "success")
        return _back(request, contacts.owner_of(contact), "contacts")

    @post("/{contact_id:int}/retire", guards=[sees_crm("contact", "contact_id")], name="retire_contact")
    async def retire(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], contact_id: FromPath[Id]
    ) -> Redirect:
        contact = await contacts.retire_contact(db_session, request.user, contact_id)
        flash(request, gettext("%(name)s is retired; their history stays.") % {"name": contact.full_name}, "success")
        return _back(request, contacts.owner_of(contact), "contacts")

    @post("/{contact_id:int}/reactivate", guards=[sees_crm("contact", "contact_id")], name="reactivate_contact")
    async def reactivate(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], contact_id: FromPath[Id]
    ) -> Redirect:
        contact = await contacts.reactivate_contact(db_session, request.user, contact_id)
        flash(request, gettext("%(name)s is active again.") % {"name": contact.full_name}, "success")
        return _back(request, contacts.owner_of(contact), "contacts")

    @post(
        "/{contact_id:int}/delete",
        guards=[sees_crm("contact", "contact_id")],
        name="delete_contact",
        opt={"form": contact_page_again},
    )
    async def delete(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], contact_id: FromPath[Id]
    ) -> Redirect:
        owner = await contacts.delete_contact(db_session, request.user, contact_id)
        flash(request, gettext("Contact deleted."), "success")
        return _back(request, owner, "contacts")


CRM_CONTROLLERS = [CustomerCrmController, ProspectCrmController, ContactsController]
