"""The connector engine: one HTTP client, paginators, endpoint descriptions, raw store and state."""
