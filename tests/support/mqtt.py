"""MQTT brokers for tests: the machine's Mosquitto on 127.0.0.1:1883 (anonymous), or a private
``mosquitto`` started by the test on free loopback ports with one listener that requires a user
and password and one speaking TLS with a test certificate; and a subscriber that collects what
arrives on a topic."""

from __future__ import annotations

import getpass
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.support.server import free_port
from tests.support.tls import self_signed_certificate

__all__ = ["Broker", "Subscriber", "private_broker", "subscriber"]

USER, PASSWORD = "camera", "mqtt-secret"
SYSTEM_PORT = 1883


@dataclass(frozen=True)
class Broker:
    auth_port: int
    tls_port: int
    ca_file: Path


@dataclass
class Subscriber:
    received: list[tuple[str, bytes, bool]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int, timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.received) >= count


def _wait_for_port(port: int, timeout_s: float = 5.0) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{port}")


@contextmanager
def private_broker(folder: Path) -> Iterator[Broker]:
    cert, key = self_signed_certificate(folder, "mqtt")
    passwords = folder / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD],
        check=True,
        capture_output=True,
    )
    broker = Broker(free_port(), free_port(), cert)
    config = folder / "mosquitto.conf"
    config.write_text(
        # run as whoever runs the tests (as root, mosquitto would switch to a user that cannot
        # read the test's private folder)
        f"user {getpass.getuser()}\n"
        "per_listener_settings true\n"
        f"listener {broker.auth_port} 127.0.0.1\n"
        "allow_anonymous false\n"
        f"password_file {passwords}\n"
        f"listener {broker.tls_port} 127.0.0.1\n"
        "allow_anonymous true\n"
        f"certfile {cert}\n"
        f"keyfile {key}\n"
    )
    process = subprocess.Popen(
        ["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for_port(broker.auth_port)
        _wait_for_port(broker.tls_port)
        yield broker
    finally:
        process.terminate()
        process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


@contextmanager
def subscriber(
    topic: str,
    port: int = SYSTEM_PORT,
    *,
    username: str | None = None,
    password: str | None = None,
) -> Iterator[Subscriber]:
    """Subscribed (SUBACK received) on entry; disconnected on exit."""
    found = Subscriber()
    subscribed = threading.Event()
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(c: Any, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        c.subscribe(topic, qos=1)

    def on_subscribe(*_args: Any) -> None:
        subscribed.set()

    def on_message(_c: Any, _u: Any, message: Any) -> None:
        found.received.append((message.topic, message.payload, bool(message.retain)))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not subscribed.wait(5):
            raise RuntimeError(f"no SUBACK from the broker on port {port}")
        yield found
    finally:
        client.disconnect()
        client.loop_stop()
