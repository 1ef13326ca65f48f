"""Jinja2 templates of every output; the only place HTML is written."""
