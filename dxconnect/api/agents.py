"""Managing agents: list, create, edit and deactivate (``accounts.manage_auth``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from dxconnect.accounts import admin as agent_admin
from dxconnect.accounts.access import MANAGE_AUTH, get_or_404
from dxconnect.api.authz_schemas import (
    AgentCreateSchema,
    AgentListArgsSchema,
    AgentPatchSchema,
    AgentSchema,
)
from dxconnect.api.blueprint import Blueprint
from dxconnect.api.pagination import page_schema, paginate
from dxconnect.models import Agent

blp = Blueprint("agents", __name__, url_prefix="/api/v1/agents", description="Agent management")


@blp.route("/")
class Agents(MethodView):
    """Agents."""

    @blp.requires(MANAGE_AUTH)
    @blp.arguments(AgentListArgsSchema, location="query")
    @blp.response(200, page_schema(AgentSchema))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Agents by id, filtered by ``is_active`` and ``search`` (paginated)."""
        return paginate(agent_admin.agents_query(args.get("is_active"), args.get("search")), args)

    @blp.requires(MANAGE_AUTH)
    @blp.arguments(
        AgentCreateSchema,
        example={
            "username": "maria",
            "password": "a-long-secret-password",
            "display_name": "Maria Silva",
            "email": "maria@example.com",
        },
    )
    @blp.response(201, AgentSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any]) -> Agent:
        """Create an agent (a taken username is 409)."""
        return agent_admin.create(body)


@blp.route("/<int(max=2147483647):agent_id>/")
class AgentDetail(MethodView):
    """One agent."""

    @blp.requires(MANAGE_AUTH)
    @blp.response(200, AgentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, agent_id: int) -> Agent:
        """The agent, its state, groups and effective permissions."""
        return get_or_404(Agent, agent_id, "Agent")

    @blp.requires(MANAGE_AUTH)
    @blp.arguments(AgentPatchSchema, example={"is_active": False})
    @blp.response(200, AgentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, changes: dict[str, Any], agent_id: int) -> Agent:
        """Edit the agent; ``is_active: false`` deactivates it and its tokens stop working.

        The last active agent able to manage access cannot be deactivated (409).
        """
        return agent_admin.update(agent_id, changes)
