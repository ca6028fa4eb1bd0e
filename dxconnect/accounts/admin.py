"""Managing other agents: list, create, edit and deactivate (``accounts.manage_auth``).

A deactivated agent's tokens stop working at once (every request loads the
agent and refuses inactive ones). Deactivations run through
:func:`dxconnect.accounts.access.guard_access_managers`, so the last agent able to
manage access cannot be deactivated.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dxconnect.accounts import agents
from dxconnect.accounts.access import get_or_404, guard_access_managers
from dxconnect.accounts.passwords import hash_password
from dxconnect.errors import Conflict
from dxconnect.extensions import db
from dxconnect.models import Agent

PROFILE_FIELDS = ("email", "display_name", "phone_number")


def agents_query(
    is_active: bool | None = None, search: str | None = None
) -> sa.Select[tuple[Agent]]:
    """Agents by id; optionally only (in)active ones, or those matching ``search``.

    ``search`` is a case-insensitive substring of the username, display name or e-mail.
    """
    statement = sa.select(Agent).order_by(Agent.id)
    if is_active is not None:
        statement = statement.where(Agent.is_active.is_(is_active))
    if search:
        statement = statement.where(
            sa.or_(
                Agent.username.icontains(search, autoescape=True),
                Agent.display_name.icontains(search, autoescape=True),
                Agent.email.icontains(search, autoescape=True),
            )
        )
    return statement


def create(data: dict[str, Any]) -> Agent:
    """Create an agent; a taken username -> 409."""
    agent = agents.create_agent(
        data["username"], data["password"], **{k: data[k] for k in PROFILE_FIELDS if k in data}
    )
    if not data.get("is_active", True):
        agent.is_active = False
        db.session.commit()
    return agent


def _username_taken(username: str) -> Conflict:
    return Conflict(f"Username '{username}' is already taken", {"username": ["Already taken."]})


def update(agent_id: int, changes: dict[str, Any]) -> Agent:
    """Edit an agent's username, profile, password or active flag (no lock-out)."""
    agent = get_or_404(Agent, agent_id, "Agent")
    username = changes.get("username", agent.username)
    if username != agent.username and agents.find_agent(username) is not None:
        raise _username_taken(username)
    if "password" in changes:
        agents.check_new_password(changes["password"])

    def apply() -> Agent:
        agent.username = username
        for name in (*PROFILE_FIELDS, "is_active"):
            if name in changes:
                setattr(agent, name, changes[name])
        if "password" in changes:
            agent.password_hash = hash_password(changes["password"])
        return agent

    return guard_access_managers(
        apply, field="is_active", on_clash=lambda: _username_taken(username)
    )
