"""A small JSON client for tests: one aiohttp session, answers decoded, status and headers kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def cache(self) -> str | None:
        return self.headers.get("x-cache")


class JsonClient:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def post(self, url: str, body: object = None, *, raw: bytes | None = None) -> Reply:
        data = raw if raw is not None else msgspec.json.encode(body if body is not None else {})
        async with self.session.post(url, data=data, headers={"content-type": "application/json"}) as response:
            return Reply(response.status, msgspec.json.decode(await response.read()), dict(response.headers))

    async def get(self, url: str) -> Reply:
        async with self.session.get(url) as response:
            return Reply(response.status, msgspec.json.decode(await response.read()), dict(response.headers))


@pytest_asyncio.fixture
async def http() -> AsyncIterator[JsonClient]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield JsonClient(session)
