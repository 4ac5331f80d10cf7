"""Monthly cost summaries."""
