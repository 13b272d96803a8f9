"""Talk HTTP to the Bot API through aiohttp: python-telegram-bot's calls, a cheaper client.

python-telegram-bot sends through httpx by default. With many requests in flight (a nudge
round) httpx costs about three times the CPU per request that aiohttp does (bench/README.md),
so the bot swaps in this `BaseRequest` unless `TELEGRAM_HTTP_TRANSPORT=httpx`; everything
above it is the same.
"""

from __future__ import annotations

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.settings import Settings

DEFAULT_POOL_SIZE = 256  # what python-telegram-bot gives its own httpx client
FORM = "application/x-www-form-urlencoded"


class NotSent(TimedOut):
    """A time-out before the request reached Telegram (no connection in time): safe to resend.

    Any other time-out came after the request was written, so Telegram may have acted on it.
    """


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession` with keep-alive connections."""

    def __init__(
        self,
        *,
        connection_pool_size: int = DEFAULT_POOL_SIZE,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """Return the default read timeout in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the client session (again, after a shutdown)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Close the client session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; turn time-outs and connection failures into PTB's errors."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        # aiohttp has no write time-out of its own: the whole exchange may take write + read.
        total = None if read is None or write is None else read + write
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | aiohttp.BytesPayload | None = None
        if request_data is not None:
            # The bytes and content type aiohttp makes of a dict, without the FormData (and its
            # multipart writer) it would build for every request on the way.
            data = (
                _form(request_data)
                if files
                else aiohttp.BytesPayload(
                    request_data.url_encoded_parameters().encode(), content_type=FORM
                )
            )
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as reply:
                return reply.status, await reply.read()
        except aiohttp.ConnectionTimeoutError as error:
            raise NotSent("no connection to the Bot API in time") from error
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _given(value: ODVInput[float], default: float | None) -> float | None:
    # PTB passes DEFAULT_NONE for "not given"; None itself means "no time-out".
    return default if isinstance(value, DefaultValue) else value


def _form(request_data: RequestData) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form


def api_request(settings: Settings) -> BaseRequest | None:
    """Return the transport for Bot API calls, or None for python-telegram-bot's own (httpx)."""
    if settings.telegram_http_transport == "aiohttp":
        return AiohttpRequest(read_timeout=settings.telegram_read_timeout_seconds)
    return None


def updates_request(settings: Settings) -> BaseRequest | None:
    """Return the transport for long polling (one connection), or None for PTB's own."""
    if settings.telegram_http_transport == "aiohttp":
        return AiohttpRequest(connection_pool_size=1)
    return None
