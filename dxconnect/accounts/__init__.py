"""Agents and their access: accounts, passwords, groups and permissions, JWTs, login throttling.

Owns who an agent is and what it may do. Must not import ``dxconnect.api`` (HTTP schemas and
views) nor any feature package (``whatsapp``, ``events``, ``realtime``).
"""
