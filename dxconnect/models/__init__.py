"""Database models, one module per aggregate."""

from dxconnect.models.agents import Agent, Group, Permission
from dxconnect.models.config import ConfigAuditEntry, Configuration
from dxconnect.models.events import DeadLetter
from dxconnect.models.tokens import RevokedToken
from dxconnect.models.whatsapp import WhatsAppInjection, WhatsAppMessage, WhatsAppSession

__all__ = [
    "Agent",
    "ConfigAuditEntry",
    "Configuration",
    "DeadLetter",
    "Group",
    "Permission",
    "RevokedToken",
    "WhatsAppInjection",
    "WhatsAppMessage",
    "WhatsAppSession",
]
