"""What a turn asks of a model provider: the managed model, the sampling options, the grounding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from strands.models import Model

from chat_core.managed_models import ManagedModel

__all__ = ["AttachmentText", "Grounding", "ModelFactory", "ModelRequest", "Passage"]


@dataclass(frozen=True, slots=True)
class Passage:
    """A knowledge-base passage, numbered as its `citation` event and the augmented prompt number it."""

    number: int
    file_name: str
    text: str


@dataclass(frozen=True, slots=True)
class AttachmentText:
    """An attached file as the offline model sees it: its text, or `None` when it cannot be read."""

    name: str
    text: str | None


@dataclass(frozen=True, slots=True)
class Grounding:
    """The material of a turn besides the conversation (used by the offline model)."""

    question: str
    passages: tuple[Passage, ...] = ()
    attachments: tuple[AttachmentText, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """Everything needed to build the strands model of one turn."""

    managed_model: ManagedModel
    temperature: float
    max_tokens: int | None
    caching: bool
    grounding: Grounding


class ModelFactory(Protocol):
    """Builds a fresh strands `Model` for one turn (never shared between turns)."""

    def __call__(self, request: ModelRequest) -> Model:
        """The model for `request`."""
        ...
