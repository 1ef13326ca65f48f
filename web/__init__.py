"""The archive server: the published files, a search page and a JSON API."""
