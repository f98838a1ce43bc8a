"""Preference push over HTTP: policies for tax-bureau staff, the inbox and preferences for taxpayers."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.domain import Role
from app.auth import my_uscc, principal, requires
from app.push import inbox, service
from app.push.schemas import (
    DeliveryCountsSchema, InboxDetailSchema, InboxItemSchema, InboxPageSchema, InboxQuerySchema, PolicyInSchema,
    PolicyPatchSchema, PolicyQuerySchema, PolicySchema, PreferencesSchema, PreviewSchema, TagsSchema,
)
from app.push.settings import push
from app.services import services
from app.taxpayers.routes import parse_uscc

blp = Blueprint("push", __name__, url_prefix="/api/v1", description="Preference push (惠推送): policies, inbox, "
                                                                     "preferences")


BIGINT_MAX = 2**63 - 1  # deliveries have BIGINT keys (other <int:…> ids stop at INTEGER's 2**31 - 1)


@blp.route("/policies")
class Policies(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.arguments(PolicyQuerySchema, location="query")
    @blp.response(200, PolicySchema(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters) -> list:  # type: ignore[no-untyped-def]
        """Policies, newest first (paged; filter by status)"""
        rows, total = service.list_policies(status=query["status"], offset=pagination_parameters.first_item,
                                            limit=pagination_parameters.page_size, uow=services().uow())
        pagination_parameters.item_count = total
        return rows

    @requires(Role.TAX_ADMIN)
    @blp.arguments(PolicyInSchema)
    @blp.response(201, PolicySchema)
    def post(self, body: dict) -> dict:
        """Save a draft policy; the rule is checked now and every bad part is named by its JSON path"""
        s = services()
        return service.create_policy(body, created_by=principal().username, uow=s.uow(), clock=s.clock)


@blp.route("/policies/<int:policy_id>")
class PolicyById(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.response(200, PolicySchema)
    def get(self, policy_id: int) -> dict:
        """One policy"""
        return service.get_policy(policy_id, uow=services().uow())

    @requires(Role.TAX_ADMIN)
    @blp.arguments(PolicyPatchSchema)
    @blp.response(200, PolicySchema)
    def patch(self, changes: dict, policy_id: int) -> dict:
        """Change a policy (once published: title, body, priority and valid_to only)"""
        s = services()
        return service.update_policy(policy_id, changes, by=principal().username, uow=s.uow(), clock=s.clock)

    @requires(Role.TAX_ADMIN)
    @blp.response(204)
    def delete(self, policy_id: int) -> None:
        """Delete a draft, or withdraw a published policy (messages not yet sent are suppressed)"""
        s = services()
        service.delete_policy(policy_id, by=principal().username, uow=s.uow(), clock=s.clock)


@blp.route("/policies/<int:policy_id>/preview")
class PolicyPreview(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.response(200, PreviewSchema)
    def post(self, policy_id: int) -> dict:
        """How many taxpayers the policy matches now, and a sample"""
        s = services()
        return service.preview_policy(policy_id, uow=s.uow(), clock=s.clock)


@blp.route("/policies/<int:policy_id>/publish")
class PolicyPublish(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.response(202, PolicySchema)
    def post(self, policy_id: int) -> dict:
        """Publish: the fan-out runs in the workers (publishing again sends nothing twice)"""
        s = services()
        return service.publish_policy(policy_id, by=principal().username, uow=s.uow(), clock=s.clock,
                                      jobs=push().jobs)


@blp.route("/policies/<int:policy_id>/deliveries")
class PolicyDeliveries(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.response(200, DeliveryCountsSchema)
    def get(self, policy_id: int) -> dict:
        """Delivery counts by status and by channel"""
        return service.delivery_counts(policy_id, uow=services().uow())


@blp.route("/taxpayers/<string:uscc>/tags")
class TaxpayerTags(MethodView):
    @requires(Role.TAX_ADMIN)
    @blp.arguments(TagsSchema)
    @blp.response(200, TagsSchema)
    def put(self, body: dict, uscc: str) -> dict:
        """Replace a taxpayer's profile tags (rules test them with {"in": ["tag", {"var": "tags"}]})"""
        return {"tags": service.set_tags(parse_uscc(uscc), body["tags"], uow=services().uow())}


@blp.route("/me/inbox")
class MyInbox(MethodView):
    @requires(Role.TAXPAYER)
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxPageSchema)
    def get(self, query: dict) -> dict:
        """The caller's messages, newest first, with the unread count"""
        return inbox.list_inbox(my_uscc(), page=query["page"], page_size=query["page_size"],
                                unread_only=query["unread_only"], uow=services().uow())


@blp.route(f"/me/inbox/<int(max={BIGINT_MAX}):delivery_id>")
class MyInboxItem(MethodView):
    @requires(Role.TAXPAYER)
    @blp.response(200, InboxDetailSchema)
    def get(self, delivery_id: int) -> dict:
        """One message, with the clauses of the policy's rule that the caller satisfied"""
        return inbox.inbox_item(my_uscc(), delivery_id, uow=services().uow())


@blp.route(f"/me/inbox/<int(max={BIGINT_MAX}):delivery_id>/read")
class MyInboxRead(MethodView):
    @requires(Role.TAXPAYER)
    @blp.response(200, InboxItemSchema)
    def post(self, delivery_id: int) -> dict:
        """Mark a message read"""
        s = services()
        return inbox.mark_read(my_uscc(), delivery_id, uow=s.uow(), clock=s.clock)


@blp.route("/me/preferences")
class MyPreferences(MethodView):
    @requires(Role.TAXPAYER)
    @blp.response(200, PreferencesSchema)
    def get(self) -> dict:
        """The caller's push preferences (defaults filled in)"""
        return inbox.get_preferences(my_uscc(), uow=services().uow(), settings=push().settings)

    @requires(Role.TAXPAYER)
    @blp.arguments(PreferencesSchema)
    @blp.response(200, PreferencesSchema)
    def put(self, body: dict) -> dict:
        """Replace the caller's preferences: opt-outs per category and channel, quiet hours, daily cap"""
        s = services()
        return inbox.put_preferences(my_uscc(), body, uow=s.uow(), clock=s.clock, settings=push().settings)
