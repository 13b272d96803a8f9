"""/articles, /videos and /focus: reading and watching picked for the couple."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.core.errors import DomainError, StaleAction
from bot.outbox.messages import Buttons, Outgoing, Priority
from bot.people import profiles as people
from bot.reading import library
from bot.reading.buttons import (
    ArticleList,
    FocusDone,
    FocusOpen,
    MoreLikeThis,
    ReadArticle,
    ToggleFocus,
    VideoTopic,
    VideoTopics,
)
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import (
    Button,
    deliver,
    edit_buttons,
    keyboard,
    locale_of,
    refuse_button,
    reply,
    settle_button,
)


async def _send_rendered(update: Update, context: BotContext, text: str, buttons: Buttons) -> None:
    chat = update.effective_chat
    assert chat is not None
    await deliver(context, Outgoing(chat.id, text, buttons, priority=Priority.REPLY))


async def focus_command(update: Update, context: BotContext, _: FocusOpen | None = None) -> None:
    """Show the focus-area picker (/focus, or the button after onboarding and in /settings)."""
    if update.callback_query is not None:
        await settle_button(update, context, keep=True)
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        chosen = await library.focus_of(session, user.id)
    await reply(
        update,
        context,
        "library.focus_choose",
        rows=_focus_rows(chosen),
        limit=library.MAX_FOCUS,
    )


def _focus_rows(chosen: frozenset[str]) -> list[list[Button]]:
    buttons = [
        Button("focus", ToggleFocus(area), values={"area": area, "chosen": area in chosen})
        for area in library.FOCUS_CHOICES
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return [*rows, [Button("focus_done", FocusDone())]]


async def focus_done(update: Update, context: BotContext, _: FocusDone) -> None:
    """Finish choosing focus areas."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        chosen = await library.focus_of(session, user.id)
    await settle_button(update, context)
    await reply(update, context, "library.focus_saved", areas=sorted(chosen))


async def focus_button(update: Update, context: BotContext, pressed: ToggleFocus) -> None:
    """Toggle one focus area."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    async with context.services.sessions.begin() as session:
        chosen = await library.toggle_focus(
            session, user.id, pressed.area, now=context.services.clock.now()
        )
    await query.answer()
    await edit_buttons(
        context, query.message, keyboard(context, _focus_rows(chosen), locale=locale_of(context))
    )


async def articles_command(
    update: Update, context: BotContext, _: ArticleList | None = None
) -> None:
    """List the articles, best fit first, with each partner's progress."""
    if update.callback_query is not None:
        await settle_button(update, context, keep=True)
    user = update.effective_user
    assert user is not None
    articles = context.services.library.articles(locale_of(context))
    async with context.services.sessions() as session:
        stored = await people.require(session, user.id)
        allowed = await library.may_read(
            session, stored, now=context.services.clock.now(), policy=context.services.policy
        )
        plan = await library.plan_for(session, stored)
        progress = await library.progress_of(session, user.id)
    if not allowed:
        await reply(update, context, "library.gated")
        return
    rows = []
    for article in library.rank_articles(articles, plan):
        row = progress.get(article.meta.id)
        values = {
            "title": article.meta.title,
            "started": row is not None,
            "finished": row is not None and row.finished_at is not None,
        }
        rows.append([Button("article", ReadArticle("open", article.meta.id), values=values)])
    await reply(update, context, "library.articles", rows=rows)


async def article_button(update: Update, context: BotContext, pressed: ReadArticle) -> None:
    """Open an article where this partner left off, or show its next part."""
    user = update.effective_user
    assert user is not None
    action, article_id = pressed.action, pressed.article_id
    locale = locale_of(context)
    try:
        article = library.find_article(context.services.library.articles(locale), article_id)
        async with context.services.sessions.begin() as session:
            stored = await people.require(session, user.id)
            allowed = await library.may_read(
                session, stored, now=context.services.clock.now(), policy=context.services.policy
            )
            if not allowed:
                raise DomainError("library.gated")
            plan = await library.plan_for(session, stored)
            progress = (await library.progress_of(session, user.id)).get(article_id)
            if action == "next" and progress is not None and progress.finished_at is not None:
                raise DomainError("library.finished", title=article.meta.title)
            view = await library.read_next(
                session, user.id, article, now=context.services.clock.now()
            )
    except StaleAction:
        raise  # answered like any other: an alert on the button
    except DomainError as problem:
        # Gated or finished: the answer is worth keeping, so a message rather than an alert.
        await settle_button(update, context)
        await reply(update, context, problem.key, **problem.values)
        return
    await settle_button(update, context)
    text, buttons = library.excerpt_message(
        context.services.texts, view, locale=locale, reason=plan.reason([article.meta.focus])
    )
    await _send_rendered(update, context, text, buttons)


async def _suggestions(
    update: Update, context: BotContext, *, like: str | None = None, topic: str | None = None
) -> library.Suggestions:
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        return await library.suggest_videos(
            session,
            user.id,
            context.services.library.videos(locale_of(context)),
            themes=context.services.library.checkin_themes(locale_of(context)),
            now=context.services.clock.now(),
            policy=context.services.policy,
            like=like,
            topic=topic,
        )


async def _video_list(
    update: Update, context: BotContext, items: Sequence[library.VideoPick], heading: dict[str, Any]
) -> None:
    texts, settings = context.services.texts, context.services.settings
    locale = locale_of(context)
    text = texts.render(
        "library.video_list",
        locale=locale,
        heading=texts.render("library.videos_heading", locale=locale, **heading),
        items=items,
    )
    rows: list[tuple[tuple[str, str], ...]] = []
    for item in items:
        video = item.video
        like = MoreLikeThis(video.id).encode()
        row = [(texts.render("buttons.more_like_this", locale=locale), like)]
        if item.access != "locked":
            label = texts.render("buttons.watch_title", locale=locale, title=video.title)
            row.insert(0, (label, library.video_url(settings.video_base_url, video)))
        rows.append(tuple(row))
    rows.append(((texts.render("buttons.browse_topics", locale=locale), VideoTopics().encode()),))
    await _send_rendered(update, context, text, tuple(rows))


async def videos_command(update: Update, context: BotContext) -> None:
    """Recommend videos for the couple's focus areas, each with the reason it was picked."""
    suggested = await _suggestions(update, context)
    heading = {"kind": "picked", "title": "", "topic": ""}
    await _video_list(update, context, suggested.picks, heading)


async def video_button(
    update: Update, context: BotContext, pressed: VideoTopics | MoreLikeThis | VideoTopic
) -> None:
    """Handle "more like this", the topic list, and one topic's videos."""
    if isinstance(pressed, VideoTopics):
        await settle_button(update, context, keep=True)
        rows = [
            [Button("focus", VideoTopic(area), values={"area": area, "chosen": False})]
            for area in library.VIDEO_TOPICS
        ]
        await reply(update, context, "library.topics", rows=rows)
        return
    try:
        if isinstance(pressed, MoreLikeThis):
            suggested = await _suggestions(update, context, like=pressed.video_id)
        else:
            suggested = await _suggestions(update, context, topic=pressed.area)
    except StaleAction:
        await refuse_button(update, context, "errors.stale_button")
        return
    await settle_button(update, context, keep=True)
    if suggested.like is not None:
        heading = {"kind": "like", "title": suggested.like.title, "topic": ""}
    else:
        assert isinstance(pressed, VideoTopic)
        topic = context.services.texts.render(
            "buttons.focus", locale=locale_of(context), area=pressed.area, chosen=False
        )
        heading = {"kind": "topic", "title": "", "topic": topic}
    await _video_list(update, context, suggested.picks, heading)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the reading and watching handlers."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("articles", articles_command, filters=private))
    application.add_handler(CommandHandler("videos", videos_command, filters=private))
    application.add_handler(CommandHandler("focus", focus_command, filters=private))
    application.add_handler(ButtonHandler(FocusOpen, focus_command))
    application.add_handler(ButtonHandler(ToggleFocus, focus_button))
    application.add_handler(ButtonHandler(FocusDone, focus_done))
    application.add_handler(ButtonHandler(ArticleList, articles_command))
    application.add_handler(ButtonHandler(ReadArticle, article_button))
    application.add_handler(ButtonHandler(VideoTopics, video_button))
    application.add_handler(ButtonHandler(MoreLikeThis, video_button))
    application.add_handler(ButtonHandler(VideoTopic, video_button))
