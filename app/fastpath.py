"""Helpers for the two hot routes (code fetch, verification) to skip generic per-request work.

flask-smorest parses bodies through webargs + marshmallow and serialises answers through a
schema; on the hot routes that machinery cost more CPU than the use case (docs/performance.md).
The schemas stay the documentation (OpenAPI) and the reference for every unusual input:

- ``documented_arguments`` puts a request schema into the OpenAPI document exactly as
  ``blp.arguments`` does, without parsing anything;
- ``json_body`` accepts the common, valid body after a cheap check and hands anything else to
  the schema's parser, so a bad body gets the usual 422 with the usual ``errors``.
"""

from __future__ import annotations

from typing import Any, Callable

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema


def documented_arguments(blp: Blueprint, schema: type[Schema], **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document ``schema`` as the request body of the view; the view reads it with ``json_body``."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        # flask-smorest builds a copy of the view's doc with the request body added; take that copy
        # and leave the parsing wrapper it was attached to unused (no extra frame per request).
        view._apidoc = blp.arguments(schema, **kwargs)(view)._apidoc  # type: ignore[attr-defined]
        return view

    return decorator


def json_body(blp: Blueprint, schema: type[Schema], *, fast: Callable[[object], bool]) -> dict[str, Any]:
    """The JSON body: as is when ``fast(body)`` vouches for it, else loaded by ``schema`` (422 on errors)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if fast(body):
            return body  # type: ignore[return-value]
    return blp.ARGUMENTS_PARSER.parse(schema, request, location="json")
