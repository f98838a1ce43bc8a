"""Shuima (税码): tax-credit color codes, verification at the bank counter, and what they unlock."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.exceptions import HTTPException

from app.clock import Clock


def create_app(config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the app: settings, extensions, error handling, blueprints, event wiring."""
    from app import embedded_redis
    from app.config import ConfigError, load_config
    from app.errors import DomainError, RateLimited, error_payload
    from app.events import bus, enqueue_delivery
    from app.extensions import api, db, redis_store
    from app.codes.front import CodeFetchFront
    from app.ops.access_log import init_access_log
    from app.ops.input_guard import init_input_guard
    from app.ops.logging import configure_logging
    from app.ops.metrics import init_metrics
    from app.services import build_services

    settings = load_config(config)
    if not settings["REDIS_URL"]:
        settings["REDIS_URL"] = embedded_redis.running_url(settings["INSTANCE_PATH"])
        if not settings["REDIS_URL"]:
            raise ConfigError("REDIS_URL is not set and no embedded Valkey is running (start one with `make run`)")

    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.session_interface = NoCookieSession()
    init_input_guard(app)  # before any blueprint adds a rule: it replaces the int converter
    app.config.update(settings)
    app.config.update(
        API_TITLE="Shuima 税码 API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    configure_logging(settings["LOG_LEVEL"], json_lines=settings["LOG_JSON"])

    db.init_app(app)
    redis_store.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    app.extensions["shuima.services"] = build_services(app, clock=clock)

    bus.redis = redis_store.client
    bus.enqueue = lambda event_id: enqueue_delivery(redis_store.queue, event_id)

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):  # type: ignore[no-untyped-def]
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
        return error_payload(error.status_code, error.message, error.errors), error.status_code, headers

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        data = getattr(error, "data", None) or {}
        message = data.get("message") or error.description or error.name
        errors = _flatten_locations(data.get("messages") or {})
        headers = dict(data.get("headers") or {})
        return error_payload(error.code or 500, message, errors), error.code, headers

    from app.accounts.routes import blp as auth_blp
    from app.codes.routes import blp as codes_blp, wellknown
    from app.ops.health import bp as health_bp
    from app.rural.routes import blp as rural_blp
    from app.push import register as register_push
    from app.push.routes import blp as push_blp
    from app.taxpayers.routes import blp as taxpayers_blp

    for blueprint in (auth_blp, codes_blp, taxpayers_blp, wellknown, push_blp, rural_blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(health_bp)
    register_push(app)
    init_metrics(app)
    init_access_log(app)
    app.wsgi_app = CodeFetchFront(app, app.wsgi_app)  # type: ignore[method-assign]
    if settings["PROXY_HOPS"]:  # outermost: the front's error answers see the client's address too
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["PROXY_HOPS"], x_proto=settings["PROXY_HOPS"])
    return app


class NoCookieSession(SessionInterface):
    """No cookie session: every API call carries a bearer token and nothing uses ``flask.session``.

    Flask's default interface builds a signing serializer on every request to look for a
    session cookie; this one hands out Flask's read-only null session, so a stray
    ``session["x"] = ...`` fails loudly instead of setting a cookie.
    """

    def open_session(self, app: Flask, request: Any) -> Any:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


def _flatten_locations(messages: dict) -> dict:
    """webargs groups field errors by location (``{"json": {"grade": [...]}}``); domain errors are
    flat (``{"grade": [...]}``). Clients get the flat shape everywhere; a name that appears in two
    locations keeps the location as a prefix (``query.page``)."""
    flat: dict = {}
    for location, fields in messages.items():
        if not isinstance(fields, dict):
            flat[location] = fields
            continue
        for name, reasons in fields.items():
            flat[name if name not in flat else f"{location}.{name}"] = reasons
    return flat
