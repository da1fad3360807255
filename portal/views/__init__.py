"""Customer portal views: invoices, requests and bookings, settings. Each area in its own module."""
