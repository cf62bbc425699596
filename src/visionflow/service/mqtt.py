"""MQTT publishes of the ``mqtt_writer_sink`` block (paho-mqtt, the ``mqtt`` extra, imported
here only): one connection per message, MQTT 3.1.1, optionally over TLS.

The broker is a host the workflow names: it must resolve only to addresses the URL rules allow
(public ones unless ``VISIONFLOW_ALLOW_PRIVATE_URLS`` / ``VISIONFLOW_URL_ALLOW_NETWORKS``), and
the connection goes to the checked address while TLS checks the certificate against the name.
Unlike the reference's block, no client is kept between runs (a block here serves every
workflow), so there is no background reconnecting either: each publish connects, waits for the
broker's CONNACK, publishes, waits for the acknowledgement its QoS asks, and disconnects, each
wait bounded by the message's timeout."""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

from visionflow.service.urls import UrlFetcher
from visionflow.workflows.blocks.outbound import MqttPublish, OutboundError

__all__ = ["publish_mqtt"]

KEEPALIVE_S = 15
# CONNACK refusals no retry can change (the reference's list): bad protocol version,
# identifier rejected, bad user name or password, not authorised.
PERMANENT_CONNACK_CODES = frozenset({1, 2, 4, 5})
_V311_CODES = {
    "Unsupported protocol version": 1,
    "Client identifier not valid": 2,
    "Server unavailable": 3,
    "Bad user name or password": 4,
    "Not authorized": 5,
}


def _paho() -> Any:
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise OutboundError(
            "the MQTT writer needs paho-mqtt, which is not installed: pip install -e '.[mqtt]'"
        ) from None
    return mqtt


def _not_connected(error: BaseException, tls: bool) -> str:
    if tls:
        return (
            f"MQTT broker not connected ({error}). TLS is enabled: check that port is the "
            "broker's TLS port and that ca_certificate_path matches the broker's certificate "
            "authority."
        )
    return (
        f"MQTT broker not connected ({error}). Raise 'timeout' if the broker needs longer "
        "to connect."
    )


def publish_mqtt(fetcher: UrlFetcher, message: MqttPublish) -> None:
    """Publish ``message``; raise ``OutboundError`` with the reference's wording on failure."""
    mqtt = _paho()
    address = fetcher.allowed_address(message.host, message.port, "MQTT broker")

    base: Any = mqtt.Client

    class PinnedClient(base):  # type: ignore[misc]
        # paho resolves ``host`` itself; connect to the address the guard checked instead (TLS
        # still checks the certificate against ``host``).
        def _create_socket_connection(self) -> socket.socket:
            return socket.create_connection((address, self._port), timeout=self._connect_timeout)

        # paho leaves the TLS socket open when the handshake fails; close it. The context
        # checks the certificate and the host name (``ssl.create_default_context``).
        def _ssl_wrap_socket(self, tcp_sock: socket.socket) -> ssl.SSLSocket:
            wrapped: ssl.SSLSocket = self._ssl_context.wrap_socket(
                tcp_sock, server_hostname=self._host, do_handshake_on_connect=False
            )
            try:
                wrapped.settimeout(self._connect_timeout)
                wrapped.do_handshake()
            except BaseException:
                wrapped.close()
                raise
            return wrapped

    connack = threading.Event()
    outcome: dict[str, int] = {}

    def on_connect(client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        # paho 2 reports MQTT 3.1.1 CONNACK codes as MQTT 5 reason codes; back to 3.1.1's.
        outcome["code"] = 0 if not reason.is_failure else _V311_CODES.get(str(reason), 3)
        connack.set()

    client = PinnedClient(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311
    )
    client.on_connect = on_connect
    client.connect_timeout = message.timeout_s
    if message.username is not None:
        client.username_pw_set(message.username, message.password)
    if message.tls:
        context = ssl.create_default_context()
        if message.ca_file:
            context.load_verify_locations(cafile=message.ca_file)
        client.tls_set_context(context)
    try:
        client.connect(message.host, message.port, keepalive=KEEPALIVE_S)
    except (OSError, ValueError) as exc:
        raise OutboundError(_not_connected(exc, message.tls), retryable=True) from None
    client.loop_start()
    try:
        _publish(mqtt, client, connack, outcome, message)
    finally:
        client.disconnect()
        client.loop_stop()


def _publish(
    mqtt: Any, client: Any, connack: threading.Event, outcome: dict[str, int], message: MqttPublish
) -> None:
    if not connack.wait(message.timeout_s):
        raise OutboundError(
            "MQTT broker not connected (connection was not established within timeout). "
            "Raise 'timeout' if the broker needs longer to connect.",
            retryable=True,
        )
    code = outcome.get("code", 0)
    if code:
        reason = mqtt.connack_string(code)
        check = " Check username and password." if code in PERMANENT_CONNACK_CODES else ""
        raise OutboundError(
            f"MQTT broker refused the connection: {reason} (code {code}).{check}",
            retryable=code not in PERMANENT_CONNACK_CODES,
        )
    try:
        info = client.publish(
            message.topic, message.payload, qos=message.qos, retain=message.retain
        )
        info.wait_for_publish(timeout=message.timeout_s)
        published = info.is_published()
    except (ValueError, RuntimeError, OSError) as exc:
        raise OutboundError(f"Failed to publish message: {exc}") from None
    if published:
        return
    if message.qos == 0:
        raise OutboundError(
            "Publish confirmation timed out; the connection dropped before the message was "
            "fully sent and QoS 0 messages are not retransmitted, so the message is lost."
        )
    raise OutboundError(
        "Publish acknowledgement timed out; delivery status unknown and the message may "
        "still be delivered."
    )
