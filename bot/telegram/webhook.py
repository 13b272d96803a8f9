"""Webhook mode: Telegram posts updates to us; each is in the inbox before we answer 200.

aiohttp's web server (already the HTTP client underneath) serves three routes: the webhook
path, `/healthz` (the process is alive) and `/readyz` (the database and the inbox answer).
Requests without the right `X-Telegram-Bot-Api-Secret-Token` are refused, compared in
constant time; bodies over the limit are refused before they are read. A failed commit
answers 503, and Telegram delivers the update again later.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import TelegramError

from bot.inbox.dispatch import Dispatcher
from bot.inbox.store import InboxStore
from bot.telegram.context import services_of
from bot.telegram.inbound import arrival_from_json, started, stop_on_signals, stopped

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# How long a stopping server waits for requests in flight (their commits) to finish.
SHUTDOWN_GRACE = 10.0


def webhook_app(
    *,
    bot: Any,
    store: InboxStore,
    secret: str,
    path: str,
    max_body: int,
    on_stored: Any,
) -> web.Application:
    """Build the web application that receives Telegram's updates."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > max_body:
            return web.Response(status=413, text="too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="too large")
        try:
            raw = json.loads(body)
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            arrival = arrival_from_json(raw, bot)
        except (ValueError, TypeError, KeyError, TelegramError):
            # Nothing Telegram would send: answering 200 stops it being delivered again.
            log.warning("webhook: ignored a request that is not an update")
            return web.Response(status=400, text="not an update")
        try:
            await store.add([arrival])
        except (SQLAlchemyError, OSError) as error:
            log.warning("webhook: cannot store an update (%s)", type(error).__name__)
            return web.Response(status=503, text="try again")
        on_stored()
        return web.Response(status=200)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        try:
            waiting = await store.pending()
        except (SQLAlchemyError, OSError) as error:
            return web.Response(status=503, text=f"database unreachable ({type(error).__name__})")
        return web.Response(text=f"ready; {waiting} update(s) waiting")

    app = web.Application(client_max_size=max_body)
    app.router.add_post(path, receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def serve_webhook(application: Any, stop: asyncio.Event | None = None) -> None:
    """Serve Telegram's webhook until SIGINT/SIGTERM (or `stop`), then stop without loss."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    services = services_of(application)
    settings = services.settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    dispatcher: Dispatcher = await started(application)
    app = webhook_app(
        bot=application.bot,
        store=services.inbox,
        secret=secret,
        path=settings.webhook_path,
        max_body=settings.webhook_max_body_bytes,
        on_stored=dispatcher.wake,
    )
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        # Listening first, so Telegram's first delivery finds us.
        await application.bot.set_webhook(
            url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
            max_connections=100,
        )
        log.info("webhook registered; listening on port %s", settings.webhook_port)
        await stop.wait()
    finally:
        # Stop accepting, let requests in flight commit (each answered after its commit), then
        # let handled updates finish; whatever is left stays in the inbox for the next start.
        await runner.cleanup()
        await stopped(application, dispatcher)
