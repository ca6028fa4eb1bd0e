"""Permissions, groups and the groups of an agent."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from dxconnect.accounts import access
from dxconnect.api.authz_schemas import (
    AgentGroupsSchema,
    GroupCreateSchema,
    GroupPatchSchema,
    GroupSchema,
    PermissionSchema,
)
from dxconnect.api.blueprint import Blueprint
from dxconnect.api.pagination import PageArgsSchema, page_schema, paginate
from dxconnect.models import Agent, Group, Permission

blp = Blueprint("authz", __name__, url_prefix="/api/v1/authz", description="Permissions and groups")

#: The permission list only changes with a deployment: browsers may reuse it briefly.
PERMISSIONS_MAX_AGE = 30


@blp.route("/permissions/")
class Permissions(MethodView):
    """Permissions."""

    @blp.requires()
    @blp.response(200, PermissionSchema(many=True))
    def get(self) -> tuple[list[Permission], dict[str, str]]:
        """Every permission an agent or group can hold (cacheable for 30 s)."""
        return access.list_permissions(), {
            "Cache-Control": f"private, max-age={PERMISSIONS_MAX_AGE}"
        }


@blp.route("/groups/")
class Groups(MethodView):
    """Groups."""

    @blp.requires(access.MANAGE_AUTH)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(GroupSchema))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every group with its permission ids (paginated)."""
        return paginate(access.groups_query(), args)

    @blp.requires(access.MANAGE_AUTH)
    @blp.arguments(GroupCreateSchema, example={"name": "Supervisores", "permissions": [1, 6]})
    @blp.response(201, GroupSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any]) -> Group:
        """Create a group (a taken name is 409; unknown permission ids are 400)."""
        return access.create_group(body["name"], body.get("permissions", []))


@blp.route("/groups/<int(max=2147483647):group_id>/")
class GroupDetail(MethodView):
    """One group."""

    @blp.requires(access.MANAGE_AUTH)
    @blp.response(200, GroupSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, group_id: int) -> Group:
        """The group and its permission ids."""
        return access.get_or_404(Group, group_id, "Group")

    @blp.requires(access.MANAGE_AUTH)
    @blp.arguments(GroupPatchSchema, example={"permissions": [1, 2, 6]})
    @blp.response(200, GroupSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, changes: dict[str, Any], group_id: int) -> Group:
        """Rename the group and/or replace its permissions."""
        return access.update_group(group_id, changes)

    @blp.requires(access.MANAGE_AUTH)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, group_id: int) -> None:
        """Delete the group (its agents lose the permissions it gave)."""
        access.delete_group(group_id)


@blp.route("/agents/<int(max=2147483647):agent_id>/groups/")
class AgentGroups(MethodView):
    """The groups of one agent."""

    @blp.requires(access.MANAGE_AUTH)
    @blp.response(200, AgentGroupsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, agent_id: int) -> dict[str, Any]:
        """The agent's groups."""
        return _groups_of(access.get_or_404(Agent, agent_id, "Agent"))

    @blp.requires(access.MANAGE_AUTH)
    @blp.arguments(AgentGroupsSchema, example={"group_ids": [1, 2]})
    @blp.response(200, AgentGroupsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, body: dict[str, Any], agent_id: int) -> dict[str, Any]:
        """Replace the agent's groups (unknown group ids are 400)."""
        return _groups_of(access.set_agent_groups(agent_id, body["group_ids"]))


def _groups_of(agent: Agent) -> dict[str, Any]:
    return {"group_ids": [group.id for group in agent.groups], "groups": agent.groups}
