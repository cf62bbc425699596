"""The SDK's HTTP plumbing: one sync and one (lazily made) async httpx client, the bearer header,
error bodies raised as typed ``visionflow.errors``, and :class:`Call`, which lets a sync method
and its ``*_async`` twin share everything but the sending (one call, or several in a row)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, cast

import httpx

from visionflow.errors import VisionflowError, error_class_for_code

__all__ = ["Call", "Transport", "json_object"]

T = TypeVar("T")
P = ParamSpec("P")


def json_object(result: Any) -> dict[str, Any]:
    """A ``Call.finish`` for answers used as they are: a JSON object."""
    return cast(dict[str, Any], result)


def _raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    message = response.text or f"HTTP {response.status_code}"
    code = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("detail") or message)
        code = body.get("error_type")
    error = error_class_for_code(code, response.status_code)(message)
    error.http_status = response.status_code
    raise error


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, built but not sent: ``finish`` turns the answer's JSON into the result."""

    method: str
    path: str
    json: Any
    finish: Callable[[Any], T]


class Transport:
    """Sends requests for ``InferenceHTTPClient`` and its per-family method groups."""

    def __init__(
        self,
        api_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self._http = http_client or httpx.Client(base_url=self.api_url, timeout=timeout)
        self._async_http = async_http_client
        self._timeout = timeout

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, headers=self._headers())
        except httpx.HTTPError as exc:
            raise VisionflowError(f"could not reach {self.api_url}: {exc}") from None
        _raise_for_error(response)
        return response.json()

    def _async_client(self) -> httpx.AsyncClient:
        if self._async_http is None:
            self._async_http = httpx.AsyncClient(base_url=self.api_url, timeout=self._timeout)
        return self._async_http

    async def _request_async(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = await self._async_client().request(
                method, path, json=json, headers=self._headers()
            )
        except httpx.HTTPError as exc:
            raise VisionflowError(f"could not reach {self.api_url}: {exc}") from None
        _raise_for_error(response)
        return response.json()

    def _send(self, build: Callable[P, Call[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        call = build(*args, **kwargs)
        return call.finish(self._request(call.method, call.path, call.json))

    async def _send_async(
        self, build: Callable[P, Call[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        # Building encodes images (file reads, JPEG encoding): off the event loop.
        call = await asyncio.to_thread(build, *args, **kwargs)
        return call.finish(await self._request_async(call.method, call.path, call.json))

    def _send_each(
        self, build: Callable[P, list[Call[T]]], *args: P.args, **kwargs: P.kwargs
    ) -> list[T]:
        """Each call ``build`` makes, sent one after the other."""
        return [c.finish(self._request(c.method, c.path, c.json)) for c in build(*args, **kwargs)]

    async def _send_each_async(
        self, build: Callable[P, list[Call[T]]], *args: P.args, **kwargs: P.kwargs
    ) -> list[T]:
        """``build`` in a worker thread (it encodes images), then its calls sent concurrently."""
        calls = await asyncio.to_thread(build, *args, **kwargs)
        answers = await asyncio.gather(
            *(self._request_async(c.method, c.path, c.json) for c in calls)
        )
        return [c.finish(answer) for c, answer in zip(calls, answers, strict=True)]

    def close(self) -> None:
        self._http.close()

    async def aclose(self) -> None:
        if self._async_http is not None:
            await self._async_http.aclose()
