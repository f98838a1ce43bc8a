"""Shuima (税码): tax-credit color codes, verification at the bank counter, and what they unlock."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app.clock import Clock


def create_app(config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the app: settings, extensions, error handling, blueprints, event wiring."""
    from app import embedded_redis
    from app.config import ConfigError, load_config
    from app.errors import DomainError, RateLimited, error_payload
    from app.events import bus
    from app.extensions import api, db, redis_store
    from app.ops.access_log import init_access_log
    from app.ops.logging import configure_logging
    from app.ops.metrics import init_metrics
    from app.services import build_services

    settings = load_config(config)
    if not settings["REDIS_URL"]:
        settings["REDIS_URL"] = embedded_redis.running_url(settings["INSTANCE_PATH"])
        if not settings["REDIS_URL"]:
            raise ConfigError("REDIS_URL is not set and no embedded Valkey is running (start one with `make run`)")

    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.url_map.converters["int"] = _RowIdConverter  # before any blueprint adds a rule
    app.config.update(settings)
    if settings["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["PROXY_HOPS"], x_proto=settings["PROXY_HOPS"])
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
    bus.enqueue = lambda event_id: redis_store.queue.enqueue("workers.events.deliver_event", event_id)

    app.before_request(_refuse_unusable_input)

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
    return app


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a JSON body may have: the parsers (the JSON decoder, the
policy-rule parser) recurse, and no request of this API needs more than a handful of levels."""


MAX_PAGE = 100_000
"""Deepest page of any list (``?page=``): far beyond it, the OFFSET overflows the database driver."""


def _refuse_unusable_input() -> None:
    """Answer 422, naming the field, for input no handler can parse or store instead of letting it
    reach a parser or the database as a 500: a NUL character (PostgreSQL text cannot hold one) in
    a path parameter, the query string or a JSON body; a lone surrogate (``"\\ud800"`` is valid
    JSON but no UTF-8 encoder takes it) in a JSON string; JSON nested deeper than MAX_JSON_DEPTH;
    and a page number past MAX_PAGE (every list pages with the same ``page`` parameter)."""
    from app.errors import InvalidInput

    for name, value in [*(request.view_args or {}).items(), *request.args.items(multi=True)]:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput.field(name, "must not contain a NUL character")
    page = request.args.get("page", "").strip().lstrip("0")
    if page.isascii() and page.isdigit() and (len(page) > len(str(MAX_PAGE)) or int(page) > MAX_PAGE):
        raise InvalidInput.field("page", f"must be at most {MAX_PAGE}")
    mimetype = request.mimetype
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        return
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:
        raise InvalidInput.field("json", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    # (value, its JSON path, depth); too deep is reported on the top-level field, bad text on its path
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise InvalidInput.field(path or "json", problem)
            continue
        if isinstance(value, (dict, list)) and depth >= MAX_JSON_DEPTH:
            top = path.split(".")[0].split("[")[0] if depth > 1 else path
            raise InvalidInput.field(top or "json", f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _text_problem(key)
                if problem:  # named by its parent: echoing the key itself could not be encoded either
                    raise InvalidInput.field(path or "json", f"a key {problem}")
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path or 'json'}[{i}]", depth + 1) for i, item in enumerate(value))


def _text_problem(text: str) -> str | None:
    """Why a JSON string cannot be stored, or None."""
    if "\x00" in text:
        return "must not contain a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (it holds a lone surrogate)"
    return None


class _RowIdConverter(IntegerConverter):
    """``<int:…>`` path ids are row keys, INTEGER columns unless a route says ``<int(max=…):…>``
    (BIGINT keys): past the column's range no row can match, so the route answers 404 instead of
    handing the database a parameter it overflows on (SQLite's driver past 64 bits, PostgreSQL's
    ``integer out of range`` past 32): a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


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
