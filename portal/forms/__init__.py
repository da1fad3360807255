"""Customer portal forms: paying by card, booking and requests, settings."""
