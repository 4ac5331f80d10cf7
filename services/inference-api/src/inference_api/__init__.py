"""inference_api."""
