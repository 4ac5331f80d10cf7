"""What app-api's lifespan opens once and every request shares."""

from __future__ import annotations

from dataclasses import dataclass

from app_api.assistants.test_chat import PreviewChats
from app_api.auth.service import SignIn
from app_api.chat.titles import TitleModel
from app_api.config import Settings
from app_api.documents.ingestion import IngestionRunner
from chat_core.files import UploadPolicy
from chat_http.state import ServiceState

__all__ = ["AppState"]


@dataclass(frozen=True, kw_only=True)
class AppState(ServiceState):
    """The edge's state (settings, storage, token verifier) plus app-api's own."""

    settings: Settings
    blob_secret: str
    """HMAC key of the sqlite backend's blob URLs (empty on the aws backend)."""
    upload_policy: UploadPolicy
    ingestion: IngestionRunner
    title_model: TitleModel | None
    previews: PreviewChats
    """The turn machinery of assistants' test chats (loaded by the first one)."""
    sign_in: SignIn | None = None
    """The identity provider for `/auth/*` (`None` when sign-in is not configured)."""
