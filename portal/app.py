"""The application factory: one Litestar app wired from `Settings`."""

from __future__ import annotations

import gc
from functools import cache, partial
from typing import Any
from urllib.parse import urlencode

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from advanced_alchemy.extensions.litestar.store import SQLAlchemyStore
from jinja2 import Environment
from litestar import Litestar, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.security.session_auth import SessionAuth
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from sqlalchemy import event

from portal import i18n
from portal.logs import BindUser, LitestarLogging, with_request_log
from portal.models import Role, User, WebSession
from portal.services import pipeline
from portal.settings import STATIC_DIR, TEMPLATES_DIR, Settings
from portal.web import formatting, sessions
from portal.web.account import AccountController
from portal.web.admin import ADMIN_CONTROLLERS
from portal.web.admin.pipeline import PipelineSettingsController
from portal.web.agreement import AgreementController
from portal.web.api import API_ROUTER, OPENAPI_CONFIG
from portal.web.api.problems import for_api
from portal.web.approvals import QueueController
from portal.web.auth import AuthController
from portal.web.catalog import CatalogController
from portal.web.context import DEPENDENCIES
from portal.web.crm import CRM_CONTROLLERS
from portal.web.customers import CustomersController
from portal.web.documents import DocumentsController
from portal.web.errors import EXCEPTION_HANDLERS
from portal.web.finance import CustomerCreditController, FinanceController
from portal.web.guards import home_route
from portal.web.home import HomeController
from portal.web.inputs import TYPE_DECODERS, BlankFieldsMiddleware
from portal.web.lists import ListsController
from portal.web.ordering import CartController, CheckoutController, CustomerCartController, OrdersController
from portal.web.origin import SameOriginMiddleware
from portal.web.permissions import can
from portal.web.pipeline import OpportunitiesController, PipelineController
from portal.web.prospects import ProspectsController
from portal.web.quote_desk import QuoteDeskController
from portal.web.quotes import QuotesController
from portal.web.rebates import RebatesController
from portal.web.reports import REPORT_CONTROLLERS
from portal.web.schedules import NotificationsController, SchedulesController
from portal.web.search import SearchController
from portal.web.security_headers import security_headers
from portal.web.sessions import PortalSessionConfig
from portal.web.statement import StatementController
from portal.web.tasks import TasksController

PUBLIC_PATHS = [
    "^/login$",
    "^/static/",
    "^/health$",
    "^/favicon.ico$",
    "^/join/",
    "^/password/forgot$",
    "^/password/reset/",
    "^/api/",
]
"""Pages open without signing in: the sign-in page, following an invitation (`/join/<token>`) and
the forgotten-password pages. The API (`/api/`) never uses a session: its calls carry an API key."""


@get("/health", name="health", exclude_from_auth=True)
async def health() -> dict[str, str]:
    return {"status": "ok"}


def plain_static_path(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """A static path with NUL or an over-long name names no file: 404, before the file system is asked."""
    path = connection.scope["path"]
    if "\x00" in path or len(path) > 500 or any(len(part) > 200 for part in path.split("/")):
        raise NotFoundException()


def database_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    config = SQLAlchemyAsyncConfig(
        connection_string=settings.database_url,
        before_send_handler="autocommit_include_redirects",
        session_config=AsyncSessionConfig(expire_on_commit=False),
        create_all=False,
    )
    if settings.database_url.startswith("sqlite"):
        event.listen(config.get_engine().sync_engine, "connect", _sqlite_pragmas)
    return config


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def template_config(settings: Settings) -> TemplateConfig[JinjaTemplateEngine]:
    def configure(engine: JinjaTemplateEngine) -> None:
        environment: Environment = i18n.install(engine.engine)
        environment.auto_reload = settings.is_development  # no file checks per render outside development
        environment.filters.update(
            price_source=formatting.price_source,
            next_break=formatting.next_break,
            availability=formatting.availability,
            order_status=formatting.order_status,
            flag_text=formatting.flag_text,
            waiting_for=formatting.waiting_for,
            event_text=formatting.event_text,
            event_reason=formatting.event_reason,
            moved_from=formatting.moved_from,
            credit_event=formatting.credit_event,
            line_price_source=formatting.line_price_source,
            schedule_note=formatting.schedule_note,
            order_note=formatting.order_note,
            payment_terms=formatting.payment_terms,
            skonto_terms=formatting.skonto_terms,
            stage_label=pipeline.stage_label,
        )
        environment.globals["query"] = query_string
        environment.globals["rhythm_chart"] = formatting.rhythm_chart
        environment.globals["home_route"] = home_route
        environment.globals["can"] = can
        environment.globals["locale"] = i18n.locale

    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=configure)


def query_string(*parts: dict[str, Any], **changes: Any) -> str:
    """ "?a=1&b=2" from dicts of URL parameters, later ones winning; empty values dropped."""
    merged: dict[str, Any] = {}
    for part in (*parts, changes):
        merged.update(part)
    kept = {key: value for key, value in merged.items() if value not in ("", None)}
    return "?" + urlencode(kept) if kept else ""


def session_auth(db: SQLAlchemyAsyncConfig, settings: Settings) -> SessionAuth[User, ServerSideSessionBackend]:
    async def retrieve_user(session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
        user_id = session.get("user_id")
        if not isinstance(user_id, int):
            return None
        if sessions.session_expired(session, settings):
            sessions.expire(connection)
            raise NotAuthorizedException("session expired")
        found = sessions.visitor_of(connection)
        user = found.user if found else None
        connection.state.has_agreement = found.has_agreement if found else False
        if user is None or user.id != user_id or session.get("version") != user.session_version:
            return None  # deactivated, or signed out everywhere / password changed since
        if user.company is not None and not user.company.is_active:
            return None  # the company was deactivated: its buyers' sessions end at once
        sessions.mark_seen(session)
        i18n.use_locale(user.locale, user.timezone)
        if user.role in (Role.ACCOUNT_MANAGER, Role.ADMIN):
            connection.state.queue_count = found.queue_count if found else 0
        return user

    return SessionAuth[User, ServerSideSessionBackend](
        retrieve_user_handler=retrieve_user,
        session_backend_config=PortalSessionConfig(
            key=sessions.session_cookie_name(settings),
            max_age=settings.session_absolute_seconds,
            secure=settings.is_production,
            httponly=True,
            samesite="lax",
            renew_on_access=False,
        ),
        exclude=PUBLIC_PATHS,
    )


@cache
def settle_heap() -> None:
    """Once per process: what a process made while starting (modules, routes, the template environment, Babel's data)
    lives as long as it does: frozen out of the garbage collector's sight, a full collection in the
    middle of a large page scans thousands of objects instead of hundreds of thousands (without
    this, one report request in ten took 200 ms longer)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    i18n.configure(settings.default_locale)
    db = database_config(settings)
    auth = session_auth(db, settings)
    templates = template_config(settings)
    pages = Router(
        path="/",
        include_in_schema=False,
        route_handlers=[
            health,
            AuthController,
            AccountController,
            HomeController,
            AgreementController,
            SchedulesController,
            NotificationsController,
            CatalogController,
            CartController,
            CheckoutController,
            CustomerCartController,
            OrdersController,
            QueueController,
            CustomersController,
            *CRM_CONTROLLERS,
            QuoteDeskController,
            PipelineController,
            OpportunitiesController,
            ListsController,
            QuotesController,
            FinanceController,
            CustomerCreditController,
            RebatesController,
            SearchController,
            StatementController,
            TasksController,
            DocumentsController,
            ProspectsController,
            PipelineSettingsController,
            *REPORT_CONTROLLERS,
            *ADMIN_CONTROLLERS,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], name="static", guards=[plain_static_path]
            ),
        ],
    )
    app = Litestar(
        route_handlers=[pages, API_ROUTER],
        plugins=[SQLAlchemyPlugin(config=db), HTMXPlugin(), FlashPlugin(config=FlashConfig(template_config=templates))],
        template_config=templates,
        stores={"sessions": SQLAlchemyStore(db, model=WebSession)},
        on_app_init=[auth.on_app_init],
        on_startup=[settle_heap],
        before_send=[security_headers(settings.is_production)],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.is_production,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=["^/api/"],
        ),
        exception_handlers={kind: for_api(handler) for kind, handler in EXCEPTION_HANDLERS.items()},
        dependencies=DEPENDENCIES,
        type_decoders=TYPE_DECODERS,
        middleware=[DefineMiddleware(BlankFieldsMiddleware), BindUser, SameOriginMiddleware],
        logging_config=LitestarLogging(),
        openapi_config=OPENAPI_CONFIG,
        state=State({"settings": settings, "db_config": db}),
        debug=False,
    )
    templates.engine_instance.engine.globals.update(
        path_for=app.route_reverse,
        customer_url=partial(app.route_reverse, "customer"),
        product_url=partial(app.route_reverse, "product"),
    )
    """`path_for(name, **parameters)`, `customer_url(company_id=…)`, `product_url(product_id=…)`: addresses
    without `url_for`'s per-call copy of the template context, for rows (a report links hundreds of
    customers, the catalog a page of products, the credit overview every company)."""
    app = with_request_log(app)
    app.asgi_handler = i18n.Localized(app.asgi_handler)
    return app
