"""A development page at `/dev`: sign in as a demo user, chat with streaming and citations, upload files.

Served only when `CHAT_ENV=development` (see `install_devpage`); plain HTML and one JavaScript file,
no build step.
"""

from app_api.devpage.router import install_devpage, router

__all__ = ["install_devpage", "router"]
