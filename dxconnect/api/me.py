"""The authenticated agent's own profile and password."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import current_user, get_current_user

from dxconnect.accounts import agents
from dxconnect.accounts.auth_cache import AgentSnapshot
from dxconnect.api.blueprint import Blueprint
from dxconnect.api.schemas import MePatchSchema, MeSchema, PasswordChangeSchema
from dxconnect.models import Agent

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The current agent")


@blp.route("/")
class Me(MethodView):
    """Current agent."""

    @blp.requires()
    @blp.response(200, MeSchema)
    def get(self) -> AgentSnapshot:
        """The authenticated agent, its effective permissions and groups."""
        return get_current_user()

    @blp.requires()
    @blp.arguments(MePatchSchema, required=False, example={"display_name": "Maria Silva"})
    @blp.response(200, MeSchema)
    def patch(self, changes: dict[str, str]) -> Agent:
        """Change the agent's own display name, e-mail or phone number."""
        return agents.update_profile(current_user.id, changes)


@blp.route("/password")
class Password(MethodView):
    """Password change."""

    @blp.requires()
    @blp.arguments(
        PasswordChangeSchema,
        example={"current_password": "old-secret", "new_password": "a-new-long-secret"},
    )
    @blp.response(204)
    def post(self, body: dict[str, str]) -> None:
        """Change the agent's own password (the current one is required)."""
        agents.change_password(current_user.id, body["current_password"], body["new_password"])
