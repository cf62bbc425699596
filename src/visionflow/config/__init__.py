"""Settings, read once from the environment into a typed, frozen object.

No other module reads environment variables: the server, CLI and tests build a ``Settings`` (tests
construct it directly) and pass it down. ``settings`` holds the object and its checks,
``environment`` the reading of ``VISIONFLOW_*`` variables, ``values`` the parsing of one value,
``relays`` the notification relays.
"""

from visionflow.config.relays import EmailRelay, SmsRelay, parse_email_relay, parse_sms_relay
from visionflow.config.settings import (
    DEFAULT_PROVIDER_URLS,
    MAX_WORKFLOWS_NESTING,
    ClipVersion,
    Settings,
)

__all__ = [
    "DEFAULT_PROVIDER_URLS",
    "MAX_WORKFLOWS_NESTING",
    "ClipVersion",
    "EmailRelay",
    "Settings",
    "SmsRelay",
    "parse_email_relay",
    "parse_sms_relay",
]
