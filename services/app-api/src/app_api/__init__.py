"""app_api."""
