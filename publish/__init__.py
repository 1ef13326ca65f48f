"""Turning a meeting into files: view-model, templates, atomic writes."""
