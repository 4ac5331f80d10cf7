"""chat_core."""
