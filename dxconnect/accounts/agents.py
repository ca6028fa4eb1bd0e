"""Agent account rules: creation, authentication, profile and password changes."""

from __future__ import annotations

import sqlalchemy as sa

from dxconnect.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from dxconnect.accounts.throttle import Throttled, login_throttle
from dxconnect.errors import Conflict, InvalidPayload, RateLimited, Unauthorized
from dxconnect.extensions import db
from dxconnect.models import Agent
from dxconnect.models.agents import utcnow

BAD_CREDENTIALS = "Invalid username or password"


def find_agent(username: str) -> Agent | None:
    """The agent with ``username`` (exact match), or None."""
    return db.session.scalar(sa.select(Agent).where(Agent.username == username))


def check_new_password(password: str, field: str = "password") -> None:
    """Refuse passwords too short to be safe."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidPayload(
            details={field: [f"Must be at least {MIN_PASSWORD_LENGTH} characters."]}
        )


def create_agent(
    username: str,
    password: str,
    *,
    email: str = "",
    display_name: str = "",
    phone_number: str = "",
    is_superuser: bool = False,
    check_password: bool = True,
) -> Agent:
    """Create and commit an agent; a taken username raises :class:`Conflict`."""
    if check_password:
        check_new_password(password)
    if find_agent(username) is not None:
        raise Conflict(f"Username '{username}' is already taken", {"username": ["Already taken."]})
    agent = Agent(
        username=username,
        email=email,
        display_name=display_name or username,
        phone_number=phone_number,
        password_hash=hash_password(password),
        is_superuser=is_superuser,
    )
    db.session.add(agent)
    db.session.commit()
    return agent


def authenticate(username: str, password: str) -> Agent:
    """The active agent whose credentials these are; otherwise :class:`Unauthorized`.

    Unknown username, wrong password and inactive account get the same answer
    and cost the same time.
    """
    agent = find_agent(username)
    valid = verify_password(agent.password_hash if agent else None, password)
    if agent is None or not valid or not agent.is_active:
        raise Unauthorized(BAD_CREDENTIALS)
    agent.last_login = utcnow()
    db.session.commit()
    return agent


def login(username: str, password: str, client_address: str) -> Agent:
    """:func:`authenticate`, throttled per username and per client address.

    Failures are counted; once either key has used up its allowance the answer
    is :class:`RateLimited` with the seconds to wait, whatever the password.
    """
    throttle = login_throttle()
    keys = (f"user:{username.lower()}", f"addr:{client_address}")
    try:
        throttle.check(*keys)
    except Throttled as exc:
        raise RateLimited(
            "Too many failed login attempts; retry later",
            {"retry_after": exc.retry_after},
            {"Retry-After": str(exc.retry_after)},
        ) from None
    try:
        return authenticate(username, password)
    except Unauthorized:
        throttle.fail(*keys)
        raise


def update_profile(agent_id: int, changes: dict[str, str]) -> Agent:
    """Apply the agent's own editable fields (display name, e-mail, phone)."""
    agent = db.session.get_one(Agent, agent_id)
    for name in ("display_name", "email", "phone_number"):
        if name in changes:
            setattr(agent, name, changes[name])
    db.session.commit()
    return agent


def change_password(agent_id: int, current_password: str, new_password: str) -> None:
    """Set a new password after checking the current one."""
    agent = db.session.get_one(Agent, agent_id)
    if not verify_password(agent.password_hash, current_password):
        raise InvalidPayload(
            "Current password is incorrect", {"current_password": ["Incorrect password."]}
        )
    check_new_password(new_password, "new_password")
    agent.password_hash = hash_password(new_password)
    db.session.commit()
