"""Sessions: list, metadata, delete, messages."""
