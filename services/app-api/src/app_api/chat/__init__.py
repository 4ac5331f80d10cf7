"""Chat helpers of the app API: session titles."""
