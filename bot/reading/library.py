"""Reading and watching: focus areas, the couple's plan, article progress and video picks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements
from bot.billing.entitlements import Policy
from bot.closeness import expectations
from bot.content.entries import Video
from bot.content.library import Article
from bot.content.texts import Texts, markdown_to_telegram
from bot.core.errors import DomainError, StaleAction
from bot.db.checkins import Checkin, CheckinAnswer, CheckinEntry, CheckinStatus
from bot.db.library import ArticleProgress, FocusChoice
from bot.db.models import User
from bot.outbox.messages import Buttons
from bot.people.profiles import require
from bot.reading.buttons import ArticleList, MoreLikeThis, ReadArticle

MAX_FOCUS = 3
# What a partner can pick; "intimacy" is the common ground every plan starts from.
FOCUS_CHOICES = (
    "appreciation",
    "curiosity",
    "vulnerability",
    "meaningful_time",
    "conflict",
    "trust",
    "busy_lives",
    "long_distance",
    "professional_help",
)
BASELINE = "intimacy"
# The topics videos can be browsed by: the common ground, then what partners can pick.
VIDEO_TOPICS = (BASELINE, *FOCUS_CHOICES)
LEVEL_ORDER = {"beginner": 0, "intermediate": 1, "advanced": 2}
# How many videos one list suggests.
SUGGESTIONS = 3


@dataclass(frozen=True)
class Plan:
    """What the couple wants to work on: who chose which area."""

    mine: frozenset[str]
    partner: frozenset[str]
    # Themes the couple's latest shared check-in points at (a low score, or a wide gap).
    needs: frozenset[str] = frozenset()
    # Focus areas the couple's latest expectations map points at (where the two differ).
    mapped: frozenset[str] = frozenset()

    def weight(self, area: str) -> int:
        """Return how much an area counts: chosen by both > by one > the common ground.

        A theme the last check-in points at counts like one partner's choice: it comes
        forward when nobody chose anything, but never outweighs what both partners chose.
        """
        chosen = 2 * (
            (area in self.mine)
            + (area in self.partner)
            + (area in self.needs)
            + (area in self.mapped)
        )
        return chosen + (area == BASELINE)

    def reason(self, areas: Sequence[str]) -> Reason:
        """Explain why something with these areas was picked."""
        best = max(areas, key=self.weight)
        if best in self.mine and best in self.partner:
            return Reason("both", best)
        if best in self.mapped:
            return Reason("map", best)
        if best in self.mine:
            return Reason("you", best)
        if best in self.partner:
            return Reason("partner", best)
        if best in self.needs:
            return Reason("checkin", best)
        return Reason("start", best)


@dataclass(frozen=True)
class Reason:
    """Why a recommendation was made: who chose which area."""

    who: str  # both | map | you | partner | checkin | start
    area: str


async def focus_of(session: AsyncSession, user_id: int) -> frozenset[str]:
    """Return the areas this person picked."""
    result = await session.exec(select(FocusChoice.area).where(FocusChoice.user_id == user_id))
    return frozenset(result.all())


async def toggle_focus(
    session: AsyncSession, user_id: int, area: str, *, now: datetime
) -> frozenset[str]:
    """Pick or unpick one area; at most three at a time."""
    if area not in FOCUS_CHOICES:
        raise StaleAction()
    await require(session, user_id)
    chosen = await focus_of(session, user_id)
    if area in chosen:
        await session.exec(
            delete(FocusChoice).where(
                col(FocusChoice.user_id) == user_id, col(FocusChoice.area) == area
            )
        )
        return chosen - {area}
    if len(chosen) >= MAX_FOCUS:
        raise DomainError("library.focus_full", limit=MAX_FOCUS)
    session.add(FocusChoice(user_id=user_id, area=area, chosen_at=now))
    return chosen | {area}


LOW_SCORE, WIDE_GAP = 2, 2


async def checkin_needs(
    session: AsyncSession, couple_id: int, themes: Mapping[str, str]
) -> frozenset[str]:
    """Return the themes of the latest shared check-in's low or far-apart scores."""
    latest = (
        await session.exec(
            select(Checkin.id)
            .where(Checkin.couple_id == couple_id, Checkin.status == CheckinStatus.REVEALED)
            .order_by(col(Checkin.finished_at).desc())
            .limit(1)
        )
    ).first()
    if latest is None:
        return frozenset()
    rows = await session.exec(
        select(CheckinAnswer.question_id, CheckinAnswer.score)
        .join(CheckinEntry, col(CheckinEntry.id) == col(CheckinAnswer.entry_id))
        .where(CheckinEntry.checkin_id == latest, col(CheckinAnswer.score).is_not(None))
    )
    scores: dict[str, list[int]] = {}
    for question_id, score in rows.all():
        if score is not None:
            scores.setdefault(question_id, []).append(score)
    return frozenset(
        themes[question_id]
        for question_id, given in scores.items()
        if question_id in themes
        and (min(given) <= LOW_SCORE or max(given) - min(given) >= WIDE_GAP)
    )


async def plan_for(
    session: AsyncSession, user: User, *, themes: Mapping[str, str] | None = None
) -> Plan:
    """Weigh both partners' choices (and, given `themes`, the last check-in) into a plan."""
    partner_areas: frozenset[str] = frozenset()
    if user.couple_id is not None:
        partner = (
            await session.exec(
                select(User.id).where(User.couple_id == user.couple_id, User.id != user.id)
            )
        ).first()
        if partner is not None:
            partner_areas = await focus_of(session, partner)
    needs: frozenset[str] = frozenset()
    if themes is not None and user.couple_id is not None:
        needs = await checkin_needs(session, user.couple_id, themes)
    mapped: frozenset[str] = frozenset()
    if user.couple_id is not None:
        mapped = (await expectations.focus_of(session, user.couple_id)).focus
    return Plan(
        mine=await focus_of(session, user.id), partner=partner_areas, needs=needs, mapped=mapped
    )


def rank_articles(articles: Sequence[Article], plan: Plan) -> list[Article]:
    """Order articles by how well they fit the plan (ties keep the editors' order)."""
    return sorted(articles, key=lambda a: -plan.weight(a.meta.focus))


def rank_videos(
    videos: Sequence[Video], plan: Plan, *, seen: frozenset[str] = frozenset()
) -> list[Video]:
    """Order unseen videos by fit, gentlest level first, then the catalogue's order."""
    fresh = [video for video in videos if video.id not in seen]
    return sorted(
        fresh,
        key=lambda v: (-sum(plan.weight(t) for t in v.topics), LEVEL_ORDER[v.level]),
    )


def like_this(videos: Sequence[Video], video: Video) -> list[Video]:
    """Return other videos sharing a topic with this one, closest first."""
    shared = [
        (len(set(v.topics) & set(video.topics)), v)
        for v in videos
        if v.id != video.id and set(v.topics) & set(video.topics)
    ]
    return [v for _, v in sorted(shared, key=lambda pair: (-pair[0], LEVEL_ORDER[pair[1].level]))]


def pick_videos(
    videos: Sequence[Video], plan: Plan, *, like: Video | None = None, topic: str | None = None
) -> list[Video]:
    """Order the videos to suggest: like another one, on one topic, or best fit for the plan."""
    if like is not None:
        return like_this(videos, like)
    ranked = rank_videos(videos, plan)
    return ranked if topic is None else [video for video in ranked if topic in video.topics]


@dataclass(frozen=True)
class VideoPick:
    """A suggested video, why it was picked, and whether it is open (see `video_access`)."""

    video: Video
    reason: Reason
    access: str


@dataclass(frozen=True)
class Suggestions:
    """The videos one list suggests, and the video they are like, when asked for that."""

    picks: tuple[VideoPick, ...]
    like: Video | None = None


async def suggest_videos(
    session: AsyncSession,
    user_id: int,
    videos: Sequence[Video],
    *,
    themes: Mapping[str, str],
    now: datetime,
    policy: Policy,
    like: str | None = None,
    topic: str | None = None,
    limit: int = SUGGESTIONS,
) -> Suggestions:
    """Suggest videos for this person's couple: best fit, like one video, or on one topic.

    A video id or a topic that names nothing (an old or forged button) is refused as stale.
    """
    user = await require(session, user_id)
    liked = None
    if like is not None:
        liked = next((video for video in videos if video.id == like), None)
        if liked is None:
            raise StaleAction()
    if topic is not None and topic not in VIDEO_TOPICS:
        raise StaleAction()
    plan = await plan_for(session, user, themes=themes)
    picked = pick_videos(videos, plan, like=liked, topic=topic)[:limit]
    picks = [
        VideoPick(
            video,
            plan.reason(video.topics),
            await video_access(session, user, video, now=now, policy=policy),
        )
        for video in picked
    ]
    return Suggestions(tuple(picks), liked)


@dataclass(frozen=True)
class ExcerptView:
    """One excerpt ready to show, with where it sits in its article."""

    article: Article
    index: int

    @property
    def total(self) -> int:
        """Return how many excerpts the article has."""
        return len(self.article.excerpts)

    @property
    def has_next(self) -> bool:
        """Tell whether another excerpt follows."""
        return self.index + 1 < self.total


async def progress_of(session: AsyncSession, user_id: int) -> dict[str, ArticleProgress]:
    """Return this person's reading progress by article id."""
    result = await session.exec(select(ArticleProgress).where(ArticleProgress.user_id == user_id))
    return {row.article_id: row for row in result.all()}


async def read_next(
    session: AsyncSession,
    user_id: int,
    article: Article,
    *,
    now: datetime,
    restart: bool = False,
) -> ExcerptView:
    """Return this person's next excerpt of an article and move their bookmark past it."""
    row = await session.get(ArticleProgress, (user_id, article.meta.id))
    if row is None:
        row = ArticleProgress(user_id=user_id, article_id=article.meta.id, updated_at=now)
    if restart or row.next_excerpt >= len(article.excerpts):
        row.next_excerpt, row.finished_at = 0, None
    view = ExcerptView(article, row.next_excerpt)
    row.next_excerpt += 1
    row.updated_at = now
    if row.next_excerpt >= len(article.excerpts):
        row.finished_at = now
    session.add(row)
    return view


def find_article(articles: Sequence[Article], article_id: str) -> Article:
    """Return an article by id, or refuse a button that names none."""
    for article in articles:
        if article.meta.id == article_id:
            return article
    raise StaleAction()


async def next_for_delivery(
    session: AsyncSession, user: User, articles: Sequence[Article]
) -> tuple[Article, Reason] | None:
    """Pick the article whose next excerpt a partner gets on the reading rhythm."""
    plan = await plan_for(session, user)
    progress = await progress_of(session, user.id)
    for article in rank_articles(articles, plan):
        row = progress.get(article.meta.id)
        if row is None or row.finished_at is None:
            return article, plan.reason([article.meta.focus])
    return None


def excerpt_message(
    texts: Texts, view: ExcerptView, *, locale: str | None, reason: Reason | None
) -> tuple[str, Buttons]:
    """Render one excerpt with its place in the article and what comes next."""
    excerpt = view.article.excerpts[view.index]
    text = texts.render(
        "library.excerpt",
        locale=locale,
        title=view.article.meta.title,
        heading=excerpt.heading,
        body=Markup(markdown_to_telegram(excerpt.body)),
        part=view.index + 1,
        total=view.total,
        minutes=view.article.meta.reading_minutes,
        reason=reason,
    )
    row: list[tuple[str, str]] = []
    if view.has_next:
        next_part = ReadArticle("next", view.article.meta.id).encode()
        row.append((texts.render("buttons.next_part", locale=locale), next_part))
    row.append((texts.render("buttons.all_articles", locale=locale), ArticleList().encode()))
    return text, (tuple(row),)


def video_url(base_url: str, video: Video) -> str:
    """Build a video's address from the configured base URL and its path."""
    return f"{base_url.rstrip('/')}/{video.path}"


def video_message(
    texts: Texts,
    video: Video,
    *,
    base_url: str,
    locale: str | None,
    reason: Reason | None,
    access: str,
) -> tuple[str, Buttons]:
    """Render a video card: why it was picked, whether it's open, and the way to watch it.

    `access` is "free", "trial" (paid, open during the trial), "included" (paid, covered by
    the subscription) or "locked" (paid, not covered).
    """
    text = texts.render("library.video", locale=locale, video=video, reason=reason, access=access)
    row: list[tuple[str, str]] = []
    if access != "locked":
        row.append((texts.render("buttons.watch", locale=locale), video_url(base_url, video)))
    like = MoreLikeThis(video.id).encode()
    row.append((texts.render("buttons.more_like_this", locale=locale), like))
    return text, (tuple(row),)


async def video_access(
    session: AsyncSession, user: User, video: Video, *, now: datetime, policy: Policy
) -> str:
    """Say whether a video is open to this person's couple, and why.

    Free videos are always open; a paid one is open during the trial ("trial") or while the
    couple is covered ("included"), and "locked" otherwise.
    """
    if not video.paid or entitlements.PAID_VIDEOS not in policy.gated:
        return "free"
    if user.couple_id is None:
        return "locked"
    access = await entitlements.access_of(session, user.couple_id, now, policy=policy)
    if access is None or not access.entitled:
        return "locked"
    return "trial" if access.state is entitlements.State.TRIAL else "included"


async def may_read(session: AsyncSession, user: User, *, now: datetime, policy: Policy) -> bool:
    """Tell whether this person's couple may read articles now (trial or subscription)."""
    if user.couple_id is None:
        return entitlements.ARTICLES not in policy.gated
    return await entitlements.is_entitled(
        session, user.couple_id, entitlements.ARTICLES, now, policy=policy
    )
