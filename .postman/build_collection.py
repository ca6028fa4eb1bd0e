"""Build the Postman collection and environment of the dxconnect API.

The collection is generated from the compact definitions below so every request
gets the same checks (status, JSON body, error envelope) without hand-copied
JavaScript. Run ``python .postman/build_collection.py`` after changing it; a
test fails when the committed JSON is not what this script builds.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COLLECTION = HERE / "dxconnect.postman_collection.json"
ENVIRONMENT = HERE / "dxconnect.postman_environment.json"
#: A real 1x1 PNG, uploaded as the logo.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


# -- checks (Postman test-script lines) ----------------------------------------------------------
def status(code: int) -> list[str]:
    """The response has ``code``."""
    return [f'pm.test("status {code}", () => pm.response.to.have.status({code}));']


def envelope(code: int, error_code: str) -> list[str]:
    """The response is the error envelope with ``error_code``."""
    return [
        *status(code),
        f'pm.test("error envelope {error_code}", () => {{',
        "  const error = pm.response.json().error;",
        f'  pm.expect(error.code).to.eql("{error_code}");',
        '  pm.expect(error).to.have.all.keys("code", "message", "details", "request_id", "timestamp");',
        '  pm.expect(error.request_id).to.eql(pm.response.headers.get("X-Request-Id"));',
        "});",
    ]


def keys(*names: str) -> list[str]:
    """The JSON body has at least these keys."""
    quoted = ", ".join(json.dumps(name) for name in names)
    return [f'pm.test("body has {", ".join(names)}", () => pm.expect(pm.response.json()).to.include.keys({quoted}));']


def equals(expression: str, value: Any) -> list[str]:
    """``pm.response.json()<expression>`` equals ``value``."""
    name = json.dumps(f"{expression} is {json.dumps(value, ensure_ascii=False)[:40]}", ensure_ascii=False)
    return [
        f"pm.test({name}, () => "
        f"pm.expect(pm.response.json(){expression}).to.eql({json.dumps(value, ensure_ascii=False)}));"
    ]


def save(variable: str, expression: str) -> list[str]:
    """Store ``pm.response.json()<expression>`` in collection variable ``variable``."""
    return [f'pm.collectionVariables.set("{variable}", pm.response.json(){expression});']


# -- requests ------------------------------------------------------------------------------------
def request(
    name: str,
    method: str,
    path: str,
    tests: list[str],
    *,
    body: Any = None,
    raw: str | None = None,
    content_type: str = "application/json",
    token: str | None = "{{access}}",
    form: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One Postman request item with its test script."""
    headers = []
    if token:
        headers.append({"key": "Authorization", "value": f"Bearer {token}"})
    url = path if path.startswith("{{") else "{{baseUrl}}" + path  # a URL saved from a response
    req: dict[str, Any] = {"method": method, "header": headers, "url": url}
    if form is not None:
        req["body"] = {"mode": "formdata", "formdata": form}
    elif body is not None or raw is not None:
        headers.append({"key": "Content-Type", "value": content_type})
        req["body"] = {"mode": "raw", "raw": raw if raw is not None else json.dumps(body, ensure_ascii=False)}
    return {
        "name": name,
        "request": req,
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": tests}}],
    }


def folder(name: str, *items: dict[str, Any]) -> dict[str, Any]:
    """A folder of requests, run in order."""
    return {"name": name, "item": list(items)}


LOGIN = {"username": "{{username}}", "password": "{{password}}"}


def health_and_docs() -> dict[str, Any]:
    return folder(
        "01 Health and docs",
        request("liveness", "GET", "/api/v1/health/", status(200) + equals(".status", "ok"), token=None),
        request("readiness", "GET", "/api/v1/health/ready", status(200) + keys("status", "checks"), token=None),
        request("schema", "GET", "/api/schema/", status(200) + keys("openapi", "paths"), token=None),
        request("swagger ui", "GET", "/api/docs/", status(200), token=None),
        request("redoc", "GET", "/api/redoc/", status(200), token=None),
        request("unknown route", "GET", "/api/v1/nope", envelope(404, "NOT_FOUND"), token=None),
        request("wrong method", "DELETE", "/api/v1/health/", envelope(405, "METHOD_NOT_ALLOWED"), token=None),
    )


def authentication() -> dict[str, Any]:
    return folder(
        "02 Authentication",
        request("token", "POST", "/api/v1/auth/token/",
                status(200) + keys("access", "refresh") + save("access", ".access") + save("refresh", ".refresh"),
                body=LOGIN, token=None),
        request("token, wrong password", "POST", "/api/v1/auth/token/",
                envelope(401, "UNAUTHORIZED"), body={"username": "{{username}}", "password": "wrong-password"},
                token=None),
        request("token, missing field", "POST", "/api/v1/auth/token/",
                envelope(400, "INVALID_PAYLOAD") + equals(".error.details.password", ["Missing data for required field."]),
                body={"username": "{{username}}"}, token=None),
        request("token, malformed JSON", "POST", "/api/v1/auth/token/", envelope(400, "INVALID_PAYLOAD"),
                raw="{not json", token=None),
        request("token, not JSON", "POST", "/api/v1/auth/token/", envelope(415, "UNSUPPORTED_MEDIA_TYPE"),
                raw="username=admin", content_type="text/plain", token=None),
        request("refresh", "POST", "/api/v1/auth/refresh/",
                status(200) + keys("access", "refresh") + save("access", ".access") + save("refresh", ".refresh"),
                body={"refresh": "{{refresh}}"}, token=None),
        request("refresh with an access token", "POST", "/api/v1/auth/refresh/", envelope(401, "UNAUTHORIZED"),
                body={"refresh": "{{access}}"}, token=None),
        request("me without a token", "GET", "/api/v1/me/", envelope(401, "UNAUTHORIZED"), token=None),
        request("me with a refresh token", "GET", "/api/v1/me/", envelope(401, "UNAUTHORIZED"), token="{{refresh}}"),
    )  # fmt: skip


def current_agent() -> dict[str, Any]:
    return folder(
        "03 Current agent",
        request("me", "GET", "/api/v1/me/",
                status(200) + keys("id", "username", "email", "display_name", "phone_number",
                                   "is_superuser", "permissions", "groups")),
        request("patch me", "PATCH", "/api/v1/me/",
                status(200) + equals(".display_name", "Operadora Conceição"),
                body={"display_name": "Operadora Conceição"}),
        request("patch me, bad e-mail", "PATCH", "/api/v1/me/",
                envelope(400, "INVALID_PAYLOAD") + keys("error"), body={"email": "not-an-email"}),
        request("password, wrong current", "POST", "/api/v1/me/password",
                envelope(400, "INVALID_PAYLOAD"),
                body={"current_password": "wrong-password", "new_password": "a-new-long-password"}),
    )  # fmt: skip


def plugins() -> dict[str, Any]:
    return folder(
        "04 Plugins",
        request("plugins", "GET", "/api/v1/plugins/", status(200) + keys("driver", "plugins")),
    )


def js(*lines: str) -> list[str]:
    """Free-form test lines (for checks the helpers above do not express)."""
    return list(lines)


def authorization() -> dict[str, Any]:
    return folder(
        "05 Agents and authorization",
        request("permissions", "GET", "/api/v1/authz/permissions/",
                status(200) + js(
                    'const chat = pm.response.json().find(p => p.codename === "manage_config_chat");',
                    'pm.test("the contract permissions are listed", () => pm.expect(chat).to.include.keys("id", "app_label", "model", "codename", "name"));',
                    'pm.collectionVariables.set("permissionId", chat.id);',
                )),
        request("create group", "POST", "/api/v1/authz/groups/",
                status(201) + keys("id", "name", "permissions") + save("groupId", ".id"),
                body={"name": "Atendimento Nível 2", "permissions": []}),
        request("create group, name taken", "POST", "/api/v1/authz/groups/", envelope(409, "CONFLICT"),
                body={"name": "Atendimento Nível 2"}),
        request("patch group, unknown permission", "PATCH", "/api/v1/authz/groups/{{groupId}}/",
                envelope(400, "INVALID_PAYLOAD"), body={"permissions": [999999]}),
        request("patch group", "PATCH", "/api/v1/authz/groups/{{groupId}}/",
                status(200) + js('pm.test("permission set", () => pm.expect(pm.response.json().permissions).to.eql([Number(pm.collectionVariables.get("permissionId"))]));'),
                raw='{"permissions": [{{permissionId}}]}'),
        request("get group", "GET", "/api/v1/authz/groups/{{groupId}}/", status(200) + equals(".name", "Atendimento Nível 2")),
        request("list groups", "GET", "/api/v1/authz/groups/?page_size=500",
                status(200) + keys("count", "next", "previous", "results")),
        request("create agent", "POST", "/api/v1/agents/",
                status(201) + save("agentId", ".id") + js('pm.test("password is write-only", () => pm.expect(pm.response.json()).to.not.have.property("password"));'),
                body={"username": "postman-maria", "password": "a-long-secret-password",
                      "display_name": "Maria Conceição", "email": "maria@example.com"}),
        request("create agent, short password", "POST", "/api/v1/agents/", envelope(400, "INVALID_PAYLOAD"),
                body={"username": "postman-joao", "password": "short"}),
        request("search agents", "GET", "/api/v1/agents/?search=postman-maria&is_active=true",
                status(200) + equals(".count", 1)),
        request("get agent", "GET", "/api/v1/agents/{{agentId}}/", status(200) + equals(".username", "postman-maria")),
        request("patch agent", "PATCH", "/api/v1/agents/{{agentId}}/", status(200) + equals(".display_name", "Maria C."),
                body={"display_name": "Maria C."}),
        request("unknown agent", "GET", "/api/v1/agents/999999/", envelope(404, "NOT_FOUND")),
        request("set agent groups", "PATCH", "/api/v1/authz/agents/{{agentId}}/groups/",
                status(200) + js('pm.test("group set", () => pm.expect(pm.response.json().group_ids).to.eql([Number(pm.collectionVariables.get("groupId"))]));'),
                raw='{"group_ids": [{{groupId}}]}'),
        request("get agent groups", "GET", "/api/v1/authz/agents/{{agentId}}/groups/", status(200) + keys("group_ids")),
        request("delete group", "DELETE", "/api/v1/authz/groups/{{groupId}}/", status(204)),
        request("deleted group", "GET", "/api/v1/authz/groups/{{groupId}}/", envelope(404, "NOT_FOUND")),
    )  # fmt: skip


def configuration() -> dict[str, Any]:
    return folder(
        "06 Configuration",
        request("whole configuration", "GET", "/api/v1/config/",
                status(200) + keys("company_data", "chat_settings", "email_settings",
                                   "appearance_settings", "whatsapp_settings")),
        request("company", "GET", "/api/v1/config/company/", status(200) + keys("cnpj", "endereco")),
        request("company, bad CNPJ and CEP", "PATCH", "/api/v1/config/company/",
                envelope(400, "INVALID_PAYLOAD") + js('pm.test("dotted field paths", () => pm.expect(pm.response.json().error.details).to.include.keys("cnpj", "endereco.cep"));'),
                body={"cnpj": "11111111111111", "endereco": {"cep": "123"}}),
        request("company", "PATCH", "/api/v1/config/company/",
                status(200) + equals(".cnpj", "11222333000181") + equals(".razao_social", "Conceição Serviços Ltda"),
                body={"cnpj": "11222333000181", "razao_social": "Conceição Serviços Ltda"}),
        request("chat, bad hours", "PATCH", "/api/v1/config/chat/",
                envelope(400, "INVALID_PAYLOAD"),
                body={"horario_funcionamento": {"sabado": {"inicio": "18:00", "fim": "08:00"}}}),
        request("chat", "PATCH", "/api/v1/config/chat/", status(200) + equals(".limite_chats_simultaneos", 8),
                body={"limite_chats_simultaneos": 8}),
        request("email, secret is never returned", "PATCH", "/api/v1/config/email/",
                status(200) + equals(".smtp_senha", "***"), body={"smtp_host": "smtp.example.com", "smtp_senha": "s3nh@"}),
        request("appearance, bad colour", "PATCH", "/api/v1/config/appearance/", envelope(400, "INVALID_PAYLOAD"),
                body={"primary_color": "blue"}),
        request("whatsapp", "GET", "/api/v1/config/whatsapp/", status(200) + keys("enabled", "session_data")),
        request("replace all", "PUT", "/api/v1/config/",
                status(200) + equals(".chat_settings.limite_chats_simultaneos", 5) + equals(".email_settings.smtp_senha", "***"),
                body={"company_data": {"razao_social": "Conceição Serviços Ltda"}}),
        request("upload logo", "POST", "/api/v1/config/appearance/upload/",
                status(200) + keys("url") + save("logoUrl", ".url"),
                form=[{"key": "kind", "value": "logo", "type": "text"},
                      {"key": "file", "type": "file", "src": "fixtures/logo.png"}]),
        request("uploaded logo is served", "GET", "{{logoUrl}}", js(
            *status(200),
            'pm.test("served as PNG", () => pm.expect(pm.response.headers.get("Content-Type")).to.eql("image/png"));',
            'pm.test("nosniff", () => pm.expect(pm.response.headers.get("X-Content-Type-Options")).to.eql("nosniff"));',
        ), token=None),
        request("upload, bad kind", "POST", "/api/v1/config/appearance/upload/", envelope(400, "INVALID_PAYLOAD"),
                form=[{"key": "kind", "value": "banner", "type": "text"},
                      {"key": "file", "type": "file", "src": "fixtures/logo.png"}]),
        request("delete logo", "DELETE", "/api/v1/config/appearance/upload/?kind=logo", status(204)),
        request("audit", "GET", "/api/v1/config/audit/", status(200) + keys("count", "results")),
    )  # fmt: skip


def whatsapp() -> dict[str, Any]:
    text = {"to": "5511999999999", "type": "text", "text": "Olá! Seu pedido saiu para entrega."}
    return folder(
        "07 WhatsApp",
        request("start session", "POST", "/api/v1/whatsapp/session/start", status(202) + keys("status")),
        request("session status", "GET", "/api/v1/whatsapp/session/status",
                status(200) + keys("status", "driver", "updated_at")),
        request("send text", "POST", "/api/v1/whatsapp/messages",
                status(202) + equals(".status", "queued") + save("messageId", ".message_id"),
                body={**text, "client_message_id": "postman-1"}),
        request("send text again (idempotent)", "POST", "/api/v1/whatsapp/messages",
                status(202) + js('pm.test("same message_id", () => pm.expect(pm.response.json().message_id).to.eql(pm.collectionVariables.get("messageId")));'),
                body={**text, "client_message_id": "postman-1"}),
        request("send image", "POST", "/api/v1/whatsapp/messages", status(202) + keys("message_id"),
                body={"to": "5511999999999", "type": "image", "image_url": "https://example.com/p.png", "caption": "Nota"}),
        request("send, bad recipient", "POST", "/api/v1/whatsapp/messages",
                envelope(400, "INVALID_PAYLOAD") + keys("error"), body={**text, "to": "12ab"}),
        request("list messages", "GET", "/api/v1/whatsapp/messages?direction=outbound",
                status(200) + keys("count", "next", "previous", "results")),
        request("get message", "GET", "/api/v1/whatsapp/messages/{{messageId}}",
                status(200) + keys("message_id", "to", "payload", "status") + js(
                    'pm.test("a contract status", () => pm.expect(pm.response.json().status).to.be.oneOf(["queued", "sent", "delivered", "read", "failed"]));',
                )),
        request("unknown message", "GET", "/api/v1/whatsapp/messages/does-not-exist", envelope(404, "NOT_FOUND")),
        request("stop session", "DELETE", "/api/v1/whatsapp/session", status(204)),
    )  # fmt: skip


def logout() -> dict[str, Any]:
    return folder(
        "99 Logout",
        request("logout", "POST", "/api/v1/auth/logout/", status(204), body={"refresh": "{{refresh}}"}),
        request("access token after logout", "GET", "/api/v1/me/", envelope(401, "UNAUTHORIZED")),
        request("refresh token after logout", "POST", "/api/v1/auth/refresh/", envelope(401, "UNAUTHORIZED"),
                body={"refresh": "{{refresh}}"}, token=None),
    )  # fmt: skip


def collection() -> dict[str, Any]:
    """The whole collection, folders in run order."""
    return {
        "info": {
            "name": "dxconnect API",
            "description": "Every endpoint of the dxconnect contract, with checks on status and body.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": [
            health_and_docs(),
            authentication(),
            current_agent(),
            plugins(),
            authorization(),
            configuration(),
            whatsapp(),
            logout(),
        ],
        "variable": [
            {"key": name, "value": ""}
            for name in ("access", "refresh", "permissionId", "groupId", "agentId", "logoUrl", "messageId")
        ],
    }


def environment() -> dict[str, Any]:
    """A local environment: the dev server and its development admin."""
    values = {"baseUrl": "http://127.0.0.1:8001", "username": "admin", "password": "admin"}
    return {
        "name": "dxconnect local",
        "values": [{"key": k, "value": v, "type": "default", "enabled": True} for k, v in values.items()],
    }


def render(document: dict[str, Any]) -> str:
    """Stable JSON text of a document."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    """Write the collection and environment next to this script."""
    COLLECTION.write_text(render(collection()), encoding="utf-8")
    ENVIRONMENT.write_text(render(environment()), encoding="utf-8")
    (HERE / "fixtures").mkdir(exist_ok=True)
    (HERE / "fixtures" / "logo.png").write_bytes(TINY_PNG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
