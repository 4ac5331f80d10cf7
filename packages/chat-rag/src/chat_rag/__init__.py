"""chat_rag."""
