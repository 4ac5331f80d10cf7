"""Bounds on what users send, and display names cleaned of invisible control characters.

Every string and list a user supplies has a bound, so one request can store only so much and no item
can outgrow DynamoDB's 400 KB. The entities' input shapes and both services' request bodies use the
bounds and types here; chat-core's README tabulates them with the largest item each allows.

A display name (a title, a name, a tag, a file name) is shown to people, often to other people: it is
stored without control characters (NUL included) and without the bidirectional formatting characters
that make a name read as something it is not ("invoice", U+202E, "fdp.exe" shows as "invoiceexe.pdf");
line breaks and tabs become spaces and runs of spaces one. A name left empty by that is refused.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "ASSISTANT_TAGS_MAX",
    "DESCRIPTION_MAX_CHARS",
    "EMAIL_MAX_CHARS",
    "ENABLED_TOOLS_MAX",
    "FILENAME_MAX_CHARS",
    "ID_MAX_CHARS",
    "INSTRUCTIONS_MAX_CHARS",
    "MODALITIES_MAX",
    "NAME_MAX_CHARS",
    "PREFERENCES_MAX_BYTES",
    "PREFERENCES_MAX_KEYS",
    "ROLES_MAX",
    "ROLE_MAX_CHARS",
    "SESSION_TAGS_MAX",
    "SHORT_TEXT_MAX_CHARS",
    "TAG_MAX_CHARS",
    "URL_MAX_CHARS",
    "DisplayName",
    "FileName",
    "RoleName",
    "ShortText",
    "Tag",
    "clean_display_name",
    "clean_person_name",
]

NAME_MAX_CHARS: Final = 200
"""Session titles, assistant, model and provider names."""
TAG_MAX_CHARS: Final = 64
SESSION_TAGS_MAX: Final = 50
ASSISTANT_TAGS_MAX: Final = 20
DESCRIPTION_MAX_CHARS: Final = 2_000
INSTRUCTIONS_MAX_CHARS: Final = 20_000
"""An assistant's instructions, a session's custom prompt."""
FILENAME_MAX_CHARS: Final = 255
EMAIL_MAX_CHARS: Final = 254
"""RFC 5321's longest forward path."""
ID_MAX_CHARS: Final = 128
ROLE_MAX_CHARS: Final = 128
ROLES_MAX: Final = 100
MODALITIES_MAX: Final = 10
"""Roles granted a model, roles a role inherits from."""
URL_MAX_CHARS: Final = 2_048
SHORT_TEXT_MAX_CHARS: Final = 256
"""Model ids, prompt ids, modalities, tool names and other short machine words."""
ENABLED_TOOLS_MAX: Final = 200
PREFERENCES_MAX_KEYS: Final = 64
PREFERENCES_MAX_BYTES: Final = 192 * 1024
"""A session's preferences as UTF-8 JSON, all keys together: room for the largest custom prompt and
tool list at once (20,000 four-byte characters and 200 tool names of 256)."""

_BIDI_CONTROLS: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Arabic letter mark, LRM, RLM, the embeddings and overrides (LRE..RLO) and the isolates (LRI..PDI)."""


def clean_display_name(value: str) -> str:
    """`value` without control or bidirectional formatting characters, whitespace runs as one space.

    Raises:
        PydanticCustomError: nothing visible is left (inside a model: a 422 naming the field).
    """
    kept = []
    for char in value:
        if char in _BIDI_CONTROLS:
            continue
        if unicodedata.category(char) == "Cc":
            if char.isspace():
                kept.append(" ")
            continue
        kept.append(char)
    cleaned = " ".join("".join(kept).split())
    if not cleaned and value:
        raise PydanticCustomError("display_name_empty", "Must contain visible characters")
    return cleaned


def clean_person_name(value: str) -> str:
    """A person's name as an identity provider sent it, cleaned like a display name, at most 200 characters.

    It may come out empty: it is not the caller's input to refuse.
    """
    visible = "".join(char for char in value if char not in _BIDI_CONTROLS)
    visible = "".join(
        " " if char.isspace() else char
        for char in visible
        if unicodedata.category(char) != "Cc" or char.isspace()
    )
    return " ".join(visible.split())[:NAME_MAX_CHARS]


_CLEAN = AfterValidator(clean_display_name)

DisplayName = Annotated[str, Field(min_length=1, max_length=NAME_MAX_CHARS), _CLEAN]
"""A title or a name shown to people: 1 to 200 characters, cleaned."""
Tag = Annotated[str, Field(min_length=1, max_length=TAG_MAX_CHARS), _CLEAN]
"""One tag: 1 to 64 characters, cleaned."""
FileName = Annotated[str, Field(min_length=1, max_length=FILENAME_MAX_CHARS), _CLEAN]
"""A file name as shown (the storage key is derived from it separately): 1 to 255 characters, cleaned."""
ShortText = Annotated[str, Field(max_length=SHORT_TEXT_MAX_CHARS)]
"""A short machine word (a model id, a modality, a tool name): at most 256 characters."""
RoleName = Annotated[str, Field(min_length=1, max_length=ROLE_MAX_CHARS)]
"""A role as tokens and grants name it: 1 to 128 characters."""
