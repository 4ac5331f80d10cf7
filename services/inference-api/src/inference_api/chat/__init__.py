"""`POST /invocations`: one streamed chat turn."""
