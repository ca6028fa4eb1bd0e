"""The deployment's configuration: five sections, the audit log and the logo/favicon uploads."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user

from dxconnect.accounts.access import MANAGE_AUTH
from dxconnect.api.blueprint import Blueprint
from dxconnect.api.config_schemas import (
    AuditArgsSchema,
    AuditEntrySchema,
    KindArgsSchema,
    UploadResultSchema,
    UploadSchema,
    partial_schema,
)
from dxconnect.api.pagination import page_schema, paginate
from dxconnect.configuration import audit as config_audit
from dxconnect.configuration import service as config_service
from dxconnect.configuration.images import MAX_IMAGE_BYTES
from dxconnect.configuration.sections import (
    CONFIG_PERMISSIONS,
    SECTIONS,
    ConfigurationSchema,
    Section,
)

blp = Blueprint(
    "config",
    __name__,
    url_prefix="/api/v1/config",
    description="The deployment's configuration. Any agent reads it; each section has its own "
    'permission for changes. Secrets read back as "***" (set) or "" (not set).',
)

APPEARANCE = SECTIONS["appearance_settings"]


def _examples(request: bool) -> dict[str, dict[str, Any]]:
    return {key: section.example(request=request) for key, section in SECTIONS.items()}


@blp.route("/")
class Configuration(MethodView):
    """The whole configuration."""

    @blp.requires()
    @blp.response(200, ConfigurationSchema, example=_examples(request=False))
    def get(self) -> dict[str, dict[str, Any]]:
        """Every section (created with the defaults on first read)."""
        return config_service.read_configuration()

    @blp.requires(*CONFIG_PERMISSIONS)
    @blp.arguments(ConfigurationSchema, example=_examples(request=True))
    @blp.response(200, ConfigurationSchema, example=_examples(request=False))
    def put(self, body: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Replace the whole configuration.

        Every section and field given is set; every section or field left out
        returns to its default, except secrets, which are kept. All sections
        are validated together: errors are listed as `<section>.<field>`.
        """
        return config_service.replace_configuration(body, current_user)


def _section_view(section: Section) -> type[MethodView]:
    """The GET/PATCH resource of one section."""

    class SectionView(MethodView):
        @blp.requires()
        @blp.doc(summary=f"Read the {section.title.lower()}")
        @blp.response(200, section.schema, example=section.example())
        def get(self) -> dict[str, Any]:
            """Read the section."""
            return config_service.read_section(section.key)

        @blp.requires(section.permission)
        @blp.doc(
            summary=f"Change the {section.title.lower()}",
            description="Fields given are merged into the stored section, the result is "
            "validated as a whole and stored; the section is answered as stored.",
        )
        @blp.arguments(partial_schema(section.schema), example=section.example(request=True))
        @blp.response(200, section.schema, example=section.example())
        def patch(self, changes: dict[str, Any]) -> dict[str, Any]:
            """Change the section."""
            return config_service.update_section(section.key, changes, current_user)

    SectionView.__name__ = SectionView.__qualname__ = section.schema.__name__.removesuffix("Schema")
    SectionView.__doc__ = section.schema.__doc__
    return SectionView


for _section in SECTIONS.values():
    blp.route(f"/{_section.path}/")(_section_view(_section))


@blp.route("/audit/")
class Audit(MethodView):
    """The configuration audit log."""

    @blp.requires(any_of=(MANAGE_AUTH, *CONFIG_PERMISSIONS))
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, page_schema(AuditEntrySchema))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Who changed which fields of which section, and when (newest first, paginated)."""
        return paginate(config_audit.entries(args.get("section")), args)


@blp.route("/appearance/upload/")
class AppearanceUpload(MethodView):
    """Logo and favicon."""

    @blp.requires(APPEARANCE.permission)
    @blp.arguments(UploadSchema, location="form_and_files")
    @blp.response(200, UploadResultSchema)
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    def post(self, body: dict[str, Any]) -> dict[str, str]:
        """Upload the login logo or the favicon (PNG, JPEG, WebP, GIF or ICO; 2 MiB at most).

        The type is decided by the file's content, never its name. The image
        replaces the previous one of its kind (whose file is deleted) and is
        served from the returned URL.
        """
        data = body["file"].stream.read(MAX_IMAGE_BYTES + 1)
        return {"url": config_service.store_image(body["kind"], data, current_user)}

    @blp.requires(APPEARANCE.permission)
    @blp.arguments(KindArgsSchema, location="query")
    @blp.response(204)
    def delete(self, args: dict[str, str]) -> None:
        """Remove the logo or the favicon and delete its file."""
        config_service.remove_image(args["kind"], current_user)
