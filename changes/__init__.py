"""Change requests through review windows, freezes and releases."""
