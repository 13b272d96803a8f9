"""The buttons of /focus, /articles and /videos."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from bot.content.entries import FOCUS_AREAS, ID_PATTERN
from bot.core.callbacks import CallbackData, Matching, OneOf

ContentId = Annotated[str, Matching(ID_PATTERN)]
# Every focus area; choosing the baseline is refused by the service, as before.
Area = Annotated[str, OneOf(FOCUS_AREAS)]


@dataclass(frozen=True)
class FocusOpen(CallbackData, prefix="focus:open"):
    """Show the focus-area picker."""


@dataclass(frozen=True)
class ToggleFocus(CallbackData, prefix="focus"):
    """Choose or drop one focus area."""

    area: Area


@dataclass(frozen=True)
class FocusDone(CallbackData, prefix="focus:done"):
    """Finish choosing focus areas."""


@dataclass(frozen=True)
class ArticleList(CallbackData, prefix="art:list"):
    """List the articles."""


@dataclass(frozen=True)
class ReadArticle(CallbackData, prefix="art"):
    """Open an article where this partner left off, or read its next part."""

    action: Literal["open", "next"]
    article_id: ContentId


@dataclass(frozen=True)
class VideoTopics(CallbackData, prefix="vid:topics"):
    """List the video topics."""


@dataclass(frozen=True)
class MoreLikeThis(CallbackData, prefix="vid:like"):
    """Suggest videos like this one."""

    video_id: ContentId


@dataclass(frozen=True)
class VideoTopic(CallbackData, prefix="vid:topic"):
    """Suggest videos about one topic."""

    area: Area
