"""chat_storage."""
