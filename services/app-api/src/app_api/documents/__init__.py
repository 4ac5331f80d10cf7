"""Knowledge-base documents of assistants, and their background ingestion."""
