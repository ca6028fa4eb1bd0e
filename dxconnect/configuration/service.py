"""The deployment's configuration: read, change (PATCH/PUT), images, secrets and key rotation.

One row holds the five sections. Every change locks that row
(``SELECT ... FOR UPDATE``), re-reads it, merges, validates and writes inside
one transaction, so two agents changing different sections at the same moment
never lose each other's change. Each change is audited
(:mod:`dxconnect.configuration.audit`). Secrets are encrypted with
:mod:`dxconnect.configuration.crypto`; only :func:`whatsapp_settings` (for the driver layer,
never for HTTP) returns them decrypted.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dxconnect.configuration import audit as config_audit
from dxconnect.configuration import images, media
from dxconnect.configuration.crypto import DecryptionError, cipher
from dxconnect.configuration.sections import SECTIONS, Section
from dxconnect.errors import InvalidPayload, flatten_errors
from dxconnect.extensions import db
from dxconnect.models import Agent, Configuration
from dxconnect.models.config import CONFIGURATION_ID

APPEARANCE = SECTIONS["appearance_settings"]
#: Upload ``kind`` -> the appearance field holding its URL.
IMAGE_FIELDS = {"logo": "login_logo_url", "favicon": "favicon_url"}


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied; nested objects are merged key by key."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def configuration() -> Configuration:
    """The configuration row, created with the contract's defaults on first use."""
    row = db.session.get(Configuration, CONFIGURATION_ID)
    if row is not None:
        return row
    db.session.add(
        Configuration(
            id=CONFIGURATION_ID, **{key: section.defaults() for key, section in SECTIONS.items()}
        )
    )
    try:
        db.session.commit()
    except IntegrityError:  # another process created it first
        db.session.rollback()
    return db.session.get_one(Configuration, CONFIGURATION_ID)


def stored_section(row: Configuration, key: str) -> dict[str, Any]:
    """Section ``key`` as stored (secrets encrypted), over the defaults of fields added since."""
    return deep_merge(SECTIONS[key].defaults(), getattr(row, key) or {})


def read_configuration() -> dict[str, dict[str, Any]]:
    """Every section as stored (dump with the section schemas to hide secrets)."""
    row = configuration()
    return {key: stored_section(row, key) for key in SECTIONS}


def read_section(key: str) -> dict[str, Any]:
    """One section as stored (dump with its schema to hide secrets)."""
    return stored_section(configuration(), key)


class _Change:
    """One locked, audited change of the configuration row.

    Entering locks the row; :meth:`write` replaces a section and audits the
    fields that changed; leaving commits (or rolls back on error), then
    deletes uploaded files no longer referenced.
    """

    def __init__(self, agent: Agent | None):
        self.agent = agent
        self.orphans: set[str] = set()

    def __enter__(self) -> Self:
        configuration()
        statement = (
            sa.select(Configuration)
            .where(Configuration.id == CONFIGURATION_ID)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        self.row = db.session.execute(statement).scalar_one()
        return self

    def old(self, section: Section) -> dict[str, Any]:
        """The section as stored now (inside the lock)."""
        return stored_section(self.row, section.key)

    def write(self, section: Section, new: dict[str, Any], action: str) -> None:
        """Store ``new`` as the whole section and audit what changed."""
        old = self.old(section)
        fields = config_audit.changed_fields(old, new)
        if not fields:
            return
        setattr(self.row, section.key, new)
        if self.agent is not None:
            config_audit.record(section.key, action, fields, self.agent)
        if section is APPEARANCE:
            self.orphans |= _image_references(old) - _image_references(new)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            db.session.rollback()
            return
        db.session.commit()
        for reference in self.orphans:
            media.delete(reference)


def _image_references(appearance: Mapping[str, Any]) -> set[str]:
    return {
        appearance[field] for field in IMAGE_FIELDS.values() if media.stored_name(appearance[field])
    }


def _validated(section: Section, data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``data`` (secrets left out) loaded by the section's schema; field errors -> 400."""
    public = {key: value for key, value in data.items() if key not in section.secrets}
    try:
        return section.schema().load(public)
    except ma.ValidationError as error:
        raise InvalidPayload(details=flatten_errors(error.messages, prefix)) from None


def _secrets(section: Section, old: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, str]:
    """The section's stored secrets after ``given``: sent ones encrypted, others kept."""
    result = {}
    for name in section.secrets:
        if name in given and not _same_secret(old[name], given[name]):
            result[name] = cipher().encrypt(given[name])
        else:
            result[name] = old[name]
    return result


def _same_secret(token: str, plaintext: str) -> bool:
    try:
        return cipher().decrypt(token) == plaintext
    except DecryptionError:
        return False


def update_section(key: str, changes: Mapping[str, Any], agent: Agent) -> dict[str, Any]:
    """PATCH: merge ``changes`` into section ``key``, validate the result, store it."""
    section = SECTIONS[key]
    with _Change(agent) as change:
        old = change.old(section)
        new = _validated(section, deep_merge(old, changes))
        new.update(_secrets(section, old, changes))
        change.write(section, new, "update")
    return read_section(key)


def replace_configuration(sections: Mapping[str, Any], agent: Agent) -> dict[str, dict[str, Any]]:
    """PUT: every section/field given is set, the rest returns to defaults (secrets are kept).

    All five sections are validated before anything is written; the errors of
    all of them are reported together, under ``<section>.<field>`` paths.
    """
    with _Change(agent) as change:
        errors: dict[str, list[str]] = {}
        replaced = {}
        for key, section in SECTIONS.items():
            given = sections.get(key, {})
            try:
                replaced[key] = _validated(section, given, prefix=key)
            except InvalidPayload as error:
                errors.update(error.details)
                continue
            replaced[key].update(_secrets(section, change.old(section), given))
        if errors:
            raise InvalidPayload(details=errors)
        for key, new in replaced.items():
            change.write(SECTIONS[key], new, "replace")
    return read_configuration()


def store_image(kind: str, data: bytes, agent: Agent) -> str:
    """Check and store an uploaded logo/favicon; return its ``/media/`` reference.

    The previous file of that kind is deleted; nothing is kept when the image
    is refused or the change fails.
    """
    image = images.inspect_image(data)
    reference = media.save(data, image)
    try:
        _set_image(kind, reference, agent, "upload")
    except BaseException:
        media.delete(reference)
        raise
    return reference


def remove_image(kind: str, agent: Agent) -> None:
    """Clear the logo/favicon and delete its file (nothing to do when none is set)."""
    _set_image(kind, "", agent, "remove_upload")


def _set_image(kind: str, reference: str, agent: Agent, action: str) -> None:
    with _Change(agent) as change:
        change.write(APPEARANCE, {**change.old(APPEARANCE), IMAGE_FIELDS[kind]: reference}, action)


def whatsapp_settings() -> dict[str, Any]:
    """The WhatsApp section with ``session_data`` and ``proxy_url`` DECRYPTED.

    For the driver layer inside the process only — never send it over HTTP.
    Raises :class:`dxconnect.configuration.crypto.DecryptionError` when a secret was written
    with a key that is no longer configured.
    """
    section = SECTIONS["whatsapp_settings"]
    data = read_section(section.key)
    for name in section.secrets:
        data[name] = cipher().decrypt(data[name])
    return data


def rotate_encryption_keys() -> int:
    """Re-encrypt every stored secret with the first configured key; return how many.

    All or nothing: a secret no configured key opens raises
    :class:`dxconnect.configuration.crypto.DecryptionError` and nothing is written. The
    values do not change, so nothing is audited.
    """
    rotated = 0
    with _Change(agent=None) as change:
        for key, section in SECTIONS.items():
            data = change.old(section)
            for name in section.secrets:
                if data[name]:
                    data[name] = cipher().rotate(data[name])
                    rotated += 1
            setattr(change.row, key, data)
    return rotated
