"""The close codes the WebSocket endpoints send (contract section 3)."""

from __future__ import annotations

#: The server is shutting down (reconnect to another process).
CLOSE_GOING_AWAY = 1001
#: A frame over 64 KiB.
CLOSE_MESSAGE_TOO_BIG = 1009
#: An unexpected error in the handler.
CLOSE_INTERNAL_ERROR = 1011
#: The event stream (the bus) is unavailable: try again later.
CLOSE_TRY_AGAIN_LATER = 1013
#: The token is missing, invalid, expired or revoked, or its agent is no longer active.
CLOSE_UNAUTHORIZED = 4001
