"""Groups, permissions and who may manage access.

Rule of the deployment: at least one active agent must always be able to
manage access (hold ``accounts.manage_auth``, directly, through a group, or as
superuser). Every change that could break it — deactivating an agent,
changing an agent's groups, changing or deleting a group — runs through
:func:`guard_access_managers`, which refuses it with 409 ``CONFLICT`` instead
of locking everybody out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dxconnect.errors import Conflict, InvalidPayload, NotFound
from dxconnect.extensions import db
from dxconnect.models import Agent, Group, Permission
from dxconnect.models.agents import agent_groups, agent_permissions, group_permissions

#: The permission that lets an agent manage agents, groups and permissions.
MANAGE_AUTH = "accounts.manage_auth"
LOCKOUT = "This change would leave no active agent able to manage access (accounts.manage_auth)"

T = TypeVar("T")


def list_permissions() -> list[Permission]:
    """Every permission, by id."""
    return list(db.session.scalars(sa.select(Permission).order_by(Permission.id)))


def _by_ids(model: type[T], ids: Iterable[int], field: str, label: str) -> list[T]:
    """The rows of ``model`` with ``ids`` (in id order); unknown ids -> 400 naming them."""
    wanted = sorted(set(ids))
    identifier = model.id  # type: ignore[attr-defined]
    found = list(
        db.session.scalars(sa.select(model).where(identifier.in_(wanted)).order_by(identifier))
    )
    unknown = sorted(set(wanted) - {row.id for row in found})  # type: ignore[attr-defined]
    if unknown:
        names = ", ".join(map(str, unknown))
        raise InvalidPayload(
            f"Unknown {label} ids: {names}", {field: [f"Unknown {label} ids: {names}."]}
        )
    return found


def permissions_by_ids(ids: Iterable[int]) -> list[Permission]:
    """The permissions with ``ids``; unknown ids -> 400 under ``permissions``."""
    return _by_ids(Permission, ids, "permissions", "permission")


def get_or_404(model: type[T], object_id: int, label: str) -> T:
    """The row of ``model`` with ``object_id``, or 404 naming it."""
    row = db.session.get(model, object_id)
    if row is None:
        raise NotFound(f"{label} {object_id} does not exist")
    return row


def groups_query() -> sa.Select[tuple[Group]]:
    """Every group, by id."""
    return sa.select(Group).order_by(Group.id)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"Group name '{name}' is already taken", {"name": ["Already taken."]})


def _check_name_free(name: str, group: Group | None = None) -> None:
    clash = db.session.scalar(sa.select(Group).where(Group.name == name))
    if clash is not None and clash is not group:
        raise _name_taken(name)


def create_group(name: str, permission_ids: Iterable[int]) -> Group:
    """Create a group; a taken name -> 409, unknown permission ids -> 400."""
    _check_name_free(name)
    group = Group(name=name, permissions=permissions_by_ids(permission_ids))
    db.session.add(group)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request took the name
        db.session.rollback()
        raise _name_taken(name) from None
    return group


def update_group(group_id: int, changes: dict[str, Any]) -> Group:
    """Rename a group and/or replace its permissions (guarded against lock-out)."""
    group = get_or_404(Group, group_id, "Group")

    def apply() -> Group:
        if "name" in changes:
            _check_name_free(changes["name"], group)
            group.name = changes["name"]
        if "permissions" in changes:
            group.permissions = permissions_by_ids(changes["permissions"])
        return group

    return guard_access_managers(
        apply, field="permissions", on_clash=lambda: _name_taken(changes["name"])
    )


def delete_group(group_id: int) -> None:
    """Delete a group (guarded against lock-out); its members simply leave it."""
    group = get_or_404(Group, group_id, "Group")
    guard_access_managers(lambda: db.session.delete(group), field="_schema")


def set_agent_groups(agent_id: int, group_ids: Iterable[int]) -> Agent:
    """Replace the agent's groups; unknown group ids -> 400, unknown agent -> 404."""
    agent = get_or_404(Agent, agent_id, "Agent")

    def apply() -> None:
        agent.groups = _by_ids(Group, group_ids, "group_ids", "group")

    guard_access_managers(apply, field="group_ids")
    return agent


def _manage_auth_id() -> sa.Select[tuple[int]]:
    app_label, codename = MANAGE_AUTH.split(".")
    return sa.select(Permission.id).where(
        Permission.app_label == app_label, Permission.codename == codename
    )


def access_manager_count() -> int:
    """How many active agents can manage access (superusers included)."""
    manage = _manage_auth_id().scalar_subquery()
    direct = sa.exists().where(
        agent_permissions.c.agent_id == Agent.id, agent_permissions.c.permission_id == manage
    )
    via_group = sa.exists().where(
        agent_groups.c.agent_id == Agent.id,
        agent_groups.c.group_id == group_permissions.c.group_id,
        group_permissions.c.permission_id == manage,
    )
    statement = (
        sa.select(sa.func.count())
        .select_from(Agent)
        .where(Agent.is_active.is_(True), sa.or_(Agent.is_superuser.is_(True), direct, via_group))
    )
    return db.session.scalar(statement) or 0


def guard_access_managers(
    change: Callable[[], T], field: str, on_clash: Callable[[], Conflict] | None = None
) -> T:
    """Apply ``change`` and commit, unless it leaves nobody able to manage access (409).

    Changes of access are serialised (a row lock on the ``manage_auth``
    permission), so two managers removing each other at once cannot both win.
    A uniqueness clash while writing (a concurrent request took a name) is
    answered with ``on_clash()``.
    """
    db.session.execute(_manage_auth_id().with_for_update())
    try:
        result = change()
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        if on_clash is None:
            raise
        raise on_clash() from None
    if access_manager_count() == 0:
        db.session.rollback()
        raise Conflict(LOCKOUT, {field: [LOCKOUT + "."]})
    db.session.commit()
    return result
