"""The deployment's configuration: the five sections, their rules, secrets, audit log and images.

Owns what may be stored as configuration and how. Must not import ``dxconnect.api``; domain
validation here never needs a request.
"""
