"""The sink environment workflows get: guarded HTTP requests, a confined file folder, a small
background pool for fire-and-forget requests, and the request's ``disable_sinks``; for the
notification and storage sinks also API calls, SMTP sessions, S3 uploads and PostgreSQL inserts
(``service.outbound``) and MQTT publishes (``service.mqtt``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from visionflow.config import EmailRelay, SmsRelay
from visionflow.service.mqtt import publish_mqtt
from visionflow.service.outbound import (
    OutboundSettings,
    call_api,
    insert_rows,
    put_object,
    send_mail,
)
from visionflow.service.urls import UrlFetcher
from visionflow.workflows.blocks.outbound import (
    ApiCall,
    ApiReply,
    MailDelivery,
    MqttPublish,
    ObjectUpload,
    RowsInsert,
)
from visionflow.workflows.blocks.sink_environment import HttpRequest, HttpResponse

__all__ = ["SinkEnvironment", "SinkPool"]

log = logging.getLogger("visionflow.sinks")


class SinkPool:
    """A bounded pool shared by all runs (fire-and-forget webhooks must not pile up threads)."""

    def __init__(self, workers: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sink")

    def submit(self, task: Callable[[], object]) -> None:
        def guarded() -> None:
            try:
                task()
            except Exception:  # a background sink failure must not vanish silently
                log.exception("background sink task failed")

        self._executor.submit(guarded)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class SinkEnvironment:
    """One run's view of the sinks (implements ``visionflow.workflows.blocks.outbound.Outbound``,
    which extends ``visionflow.workflows.blocks.sinks.Sinks``)."""

    fetcher: UrlFetcher
    pool: SinkPool
    disabled: bool
    file_root: Path | None
    # The longest a request may take, whatever a block asks (the webhook block refuses more).
    max_timeout_s: float = 30.0
    outbound: OutboundSettings = field(default_factory=OutboundSettings)

    def send(self, request: HttpRequest) -> HttpResponse:
        status = self.fetcher.request(
            request.method,
            request.url,
            params=request.params or None,
            headers=request.headers or None,
            json=request.json,
            data=request.data,
            files=request.files,
            timeout_s=min(request.timeout_s, self.max_timeout_s),
            purpose=request.purpose,
        )
        return HttpResponse(status_code=status)

    def submit(self, task: Callable[[], object]) -> None:
        self.pool.submit(task)

    @property
    def allow_egress(self) -> bool:
        return self.outbound.allow_egress

    @property
    def timeout_s(self) -> float:
        return self.outbound.timeout_s

    def api_url(self, service: str) -> str:
        return self.outbound.api_url(service)

    @property
    def email_relay(self) -> EmailRelay | None:
        return self.outbound.email_relay

    @property
    def sms_relay(self) -> SmsRelay | None:
        return self.outbound.sms_relay

    def call(self, request: ApiCall) -> ApiReply:
        return call_api(self.fetcher, request)

    def send_mail(self, delivery: MailDelivery) -> None:
        send_mail(self.fetcher, delivery, self.outbound.smtp_ca_file)

    def put_object(self, upload: ObjectUpload) -> None:
        put_object(upload, self.outbound.s3_endpoint_url)

    def insert_rows(self, insert: RowsInsert) -> None:
        insert_rows(self.fetcher, insert)

    def publish_mqtt(self, message: MqttPublish) -> None:
        publish_mqtt(self.fetcher, message)
