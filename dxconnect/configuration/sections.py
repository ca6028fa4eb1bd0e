"""The five configuration sections: fields, defaults, validation rules and examples.

Each section is a marshmallow schema: loading ``{}`` gives the section's
defaults, loading a whole section validates it (errors keyed by dotted path,
e.g. ``endereco.cep``), and dumping a stored section hides its secrets
(``"***"`` when set, ``""`` when not). :data:`SECTIONS` lists them with their
URL path and the permission guarding their changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from flask import has_request_context, request
from marshmallow import validate

from dxconnect.api.schemas import optional_email
from dxconnect.configuration.media import stored_name
from dxconnect.fields import FullMatch, StrictBoolean, StrictInteger, nested, text

#: The 27 Brazilian federative units.
UFS = (
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
)  # fmt: skip
WEEKDAYS = ("segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo")
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
MAX_SECRET_LENGTH = 4096
MAX_SESSION_DATA_LENGTH = 512 * 1024


def cnpj_check_digits(value: str) -> None:
    """Refuse a 14-digit CNPJ whose two check digits are wrong (``""`` is "not filled in")."""
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        return  # the format validator reports it
    digits = [int(c) for c in value]
    if len(set(digits)) == 1:
        raise ma.ValidationError("Not a valid CNPJ.")
    for position in (12, 13):
        weights = list(range(position - 7, 1, -1)) + list(range(9, 1, -1))
        total = sum(d * w for d, w in zip(digits[:position], weights, strict=True))
        check = 0 if total % 11 < 2 else 11 - total % 11
        if digits[position] != check:
            raise ma.ValidationError("Not a valid CNPJ (check digits do not match).")


def no_markup(value: str) -> None:
    """Refuse ``<`` so stored CSS can never close its ``<style>`` element."""
    if "<" in value:
        raise ma.ValidationError("Must not contain '<'.")


class Secret(ma.fields.String):
    """A secret: any string is accepted (and encrypted); reads show ``"***"`` or ``""``."""

    def __init__(self, write_example: str, max_length: int = MAX_SECRET_LENGTH, **metadata: Any):
        self.write_example = write_example
        super().__init__(
            validate=validate.Length(max=max_length),
            metadata={
                "description": 'Write-only secret, stored encrypted. Reads return "***" when '
                'it is set and "" when not; sending "" clears it.',
                "example": "***",
                **metadata,
            },
        )

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return "***" if value else ""


class ImageUrl(ma.fields.String):
    """An image URL: ``""``, an ``http(s)`` URL, or a ``/media/`` file returned by the upload.

    Files of this server are stored as their ``/media/<name>`` path (so they
    survive a change of host name) and read back as absolute URLs.
    """

    _external = validate.URL(schemes={"http", "https"}, require_tld=False)

    def __init__(self) -> None:
        super().__init__(
            load_default="",
            validate=validate.Length(max=2048),
            metadata={
                "description": "Set by the upload endpoint; may also be set to an http(s) URL, "
                'or to "" (which deletes an uploaded file).',
                "example": "https://dx.example.com/media/4f1c9a0e8b7d6c5a4f3e2d1c0b9a8f7e.png",
            },
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        url = super()._deserialize(value, attr, data, **kwargs)
        if url == "" or stored_name(url):
            return url
        try:
            self._external(url)
        except ma.ValidationError:
            raise ma.ValidationError(
                "Must be an http(s) URL, a URL returned by the upload endpoint, or empty."
            ) from None
        parts = urlsplit(url)
        own_host = has_request_context() and parts.netloc == request.host
        return parts.path if own_host and stored_name(parts.path) else url

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        if value and stored_name(value) and has_request_context():
            return request.url_root.rstrip("/") + value
        return value or ""


class EnderecoSchema(ma.Schema):
    """The company's address."""

    cep = ma.fields.String(
        load_default="01234567",
        validate=FullMatch(r"^([0-9]{8})?$", error="Must be 8 digits."),
        metadata={"description": "CEP, 8 digits without punctuation.", "example": "01310100"},
    )
    logradouro = text(example="Avenida Paulista")
    numero = text(20, example="1000")
    complemento = text(example="Conjunto 101")
    bairro = text(example="Bela Vista")
    cidade = text(example="São Paulo")
    uf = ma.fields.String(
        load_default="SP",
        validate=validate.OneOf(("", *UFS)),
        metadata={"description": "One of the 27 Brazilian UFs.", "example": "SP"},
    )


class CompanyDataSchema(ma.Schema):
    """Company data (``company/``): the legal and contact details of the company."""

    razao_social = text(example="DX Tecnologia Ltda")
    nome_fantasia = text(example="DX Connect")
    cnpj = ma.fields.String(
        load_default="",
        validate=[FullMatch(r"^([0-9]{14})?$", error="Must be 14 digits."), cnpj_check_digits],
        metadata={"description": "14 digits, check digits verified.", "example": "11222333000181"},
    )
    inscricao_estadual = text(50, example="110042490114")
    inscricao_municipal = text(50, example="12345678")
    regime_tributario = ma.fields.String(
        load_default="1",
        validate=validate.OneOf(("", "1", "2", "3")),
        metadata={
            "description": "1 Simples Nacional, 2 Simples Nacional (excesso), 3 Regime Normal.",
            "example": "1",
        },
    )
    cnae_principal = text(20, example="6201501")
    telefone = text(32, example="+55 11 3000-0000")
    email = optional_email("", example="contato@dx.example.com")
    site = text(example="https://dx.example.com")
    endereco = nested(EnderecoSchema, EnderecoSchema().load({}))


class DaySchema(ma.Schema):
    """Opening hours of one day: ``HH:MM`` with inicio < fim, or both null (closed)."""

    inicio = ma.fields.String(
        required=True, allow_none=True, validate=FullMatch(HHMM), metadata={"example": "08:00"}
    )
    fim = ma.fields.String(
        required=True, allow_none=True, validate=FullMatch(HHMM), metadata={"example": "18:00"}
    )

    @ma.validates_schema
    def check_interval(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Both times or neither; the day starts before it ends."""
        inicio, fim = data.get("inicio"), data.get("fim")
        if (inicio is None) != (fim is None):
            field = "inicio" if inicio is None else "fim"
            raise ma.ValidationError("Set both inicio and fim, or neither (closed).", field)
        if inicio is not None and fim is not None and inicio >= fim:
            raise ma.ValidationError("Must be earlier than fim.", "inicio")


def _default_day(day: str) -> dict[str, str | None]:
    """08:00-18:00 from Monday to Friday, closed on weekends."""
    if day in ("sabado", "domingo"):
        return {"inicio": None, "fim": None}
    return {"inicio": "08:00", "fim": "18:00"}


BusinessHoursSchema = ma.Schema.from_dict(
    {day: nested(DaySchema, _default_day(day), whole=True) for day in WEEKDAYS},
    name="BusinessHoursSchema",
)
BusinessHoursSchema.__doc__ = "Opening hours per weekday (segunda ... domingo)."


class ChatSettingsSchema(ma.Schema):
    """Chat settings (``chat/``): automatic messages, limits and business hours."""

    mensagem_saudacao = text(1000, "Olá! Como podemos ajudar?")
    mensagem_fora_expediente = text(1000, "Estamos fora do horário de atendimento.")
    mensagem_encerramento = text(1000, "Obrigado pelo contato!")
    mensagem_inatividade = text(1000, "Estamos encerrando por inatividade.")
    timeout_inatividade_minutos = StrictInteger(load_default=15, validate=validate.Range(min=1))
    limite_chats_simultaneos = StrictInteger(load_default=5, validate=validate.Range(min=1))
    horario_funcionamento = nested(BusinessHoursSchema, BusinessHoursSchema().load({}))


class EmailSettingsSchema(ma.Schema):
    """E-mail settings (``email/``): the SMTP server used to send mail."""

    smtp_host = text(example="smtp.example.com")
    smtp_port = StrictInteger(load_default=587, validate=validate.Range(min=1, max=65535))
    smtp_usuario = text(example="no-reply@dx.example.com")
    smtp_senha = Secret("app-password-123")
    smtp_ssl = StrictBoolean(load_default=True)
    email_from = optional_email("", example="no-reply@dx.example.com")


class AppearanceSettingsSchema(ma.Schema):
    """Appearance settings (``appearance/``): logo, favicon, colours and custom CSS."""

    login_logo_url = ImageUrl()
    favicon_url = ImageUrl()
    primary_color = ma.fields.String(
        load_default="#0ea5e9",
        validate=FullMatch(
            r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6})?$", error="Must be #RGB or #RRGGBB."
        ),
        metadata={"example": "#0ea5e9"},
    )
    secondary_color = ma.fields.String(
        load_default="#111827",
        validate=FullMatch(
            r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6})?$", error="Must be #RGB or #RRGGBB."
        ),
        metadata={"example": "#111827"},
    )
    custom_css = ma.fields.String(
        load_default="",
        validate=[validate.Length(max=20000), no_markup],
        metadata={
            "description": "Extra CSS for the frontend; '<' is refused.",
            "example": ".login h1 { font-weight: 600; }",
        },
    )


class WhatsAppSettingsSchema(ma.Schema):
    """WhatsApp settings (``whatsapp/``): the device session the driver runs."""

    enabled = StrictBoolean(load_default=False)
    device_name = text(64, "DXConnect")
    stealth_mode = StrictBoolean(load_default=True)
    human_delays = StrictBoolean(load_default=True)
    reconnect_backoff_seconds = StrictInteger(load_default=5, validate=validate.Range(min=0))
    session_data = Secret('{"session": "opaque driver state"}', MAX_SESSION_DATA_LENGTH)
    proxy_url = Secret("http://user:password@proxy.example.com:3128")


@dataclass(frozen=True)
class Section:
    """One configuration section: its key in ``GET /config/``, URL path, guard and schema."""

    key: str
    path: str
    schema: type[ma.Schema]
    secrets: tuple[str, ...] = ()

    @property
    def permission(self) -> str:
        """The permission guarding changes, ``core.manage_config_<path>``."""
        return f"core.manage_config_{self.path}"

    @property
    def title(self) -> str:
        """The section's name for people, e.g. "Company data"."""
        return (self.schema.__doc__ or self.key).split(" (")[0].strip()

    def defaults(self) -> dict[str, Any]:
        """A fresh copy of the section's defaults (secrets unset)."""
        return {**self.schema().load({}), **dict.fromkeys(self.secrets, "")}

    def example(self, *, request: bool = False) -> dict[str, Any]:
        """An example of the whole section (as sent when ``request``, else as read back)."""
        return example_of(self.schema, request=request)


def example_of(schema: type[ma.Schema] | ma.Schema, *, request: bool = False) -> dict[str, Any]:
    """An example object for ``schema``: each field's ``example`` metadata, else its default.

    With ``request``, secrets get a plaintext example instead of the ``"***"`` reads show.
    """
    instance = schema() if isinstance(schema, type) else schema
    example: dict[str, Any] = {}
    for name, field in instance.fields.items():
        if isinstance(field, ma.fields.Nested):
            example[name] = example_of(field.schema, request=request)
        elif request and isinstance(field, Secret):
            example[name] = field.write_example
        elif "example" in field.metadata:
            example[name] = field.metadata["example"]
        else:
            example[name] = (
                field.load_default() if callable(field.load_default) else field.load_default
            )
    return example


SECTIONS: dict[str, Section] = {
    section.key: section
    for section in (
        Section("company_data", "company", CompanyDataSchema),
        Section("chat_settings", "chat", ChatSettingsSchema),
        Section("email_settings", "email", EmailSettingsSchema, ("smtp_senha",)),
        Section("appearance_settings", "appearance", AppearanceSettingsSchema),
        Section(
            "whatsapp_settings", "whatsapp", WhatsAppSettingsSchema, ("session_data", "proxy_url")
        ),
    )
}

#: Every ``core.manage_config_*`` permission (``PUT /config/`` needs them all).
CONFIG_PERMISSIONS = tuple(section.permission for section in SECTIONS.values())

ConfigurationSchema = ma.Schema.from_dict(
    {key: ma.fields.Nested(section.schema, metadata={"description": section.schema.__doc__})
     for key, section in SECTIONS.items()},
    name="ConfigurationSchema",
)  # fmt: skip
ConfigurationSchema.__doc__ = (
    "The whole configuration. In a PUT every section or field left out returns to its default "
    "(secrets left out are kept)."
)
