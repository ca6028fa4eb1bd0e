"""Web plumbing around Flask: the app class, the request edge, CORS, docs, logging, Sentry.

Owns what every request goes through, whatever the feature. Holds no business rule and must not
import ``dxconnect.api`` or feature packages.
"""
