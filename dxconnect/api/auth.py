"""Authentication: obtain, refresh and revoke JWTs."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt

from dxconnect.accounts import agents, tokens
from dxconnect.api.blueprint import Blueprint
from dxconnect.api.schemas import CredentialsSchema, RefreshSchema, TokenPairSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="JWT authentication")


@blp.route("/token/")
class Token(MethodView):
    """Token pair."""

    @blp.arguments(CredentialsSchema, example={"username": "admin", "password": "admin"})
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, credentials: dict[str, str]) -> dict[str, str]:
        """Exchange username and password for an access and a refresh token."""
        agent = agents.login(
            credentials["username"], credentials["password"], request.remote_addr or "-"
        )
        return tokens.issue_tokens(agent)


@blp.route("/refresh/")
class Refresh(MethodView):
    """Token refresh."""

    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def post(self, body: dict[str, str]) -> dict[str, str]:
        """Exchange a refresh token for a new access token and a rotated refresh token.

        The refresh token sent is revoked: use the one returned from now on.
        """
        return tokens.rotate(body["refresh"])


@blp.route("/logout/")
class Logout(MethodView):
    """Logout."""

    @blp.requires()
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    def post(self, body: dict[str, str]) -> None:
        """Revoke the given refresh token and the access token of this request."""
        tokens.logout(body["refresh"], current_user, get_jwt())
