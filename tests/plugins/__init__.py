"""Plugins the tests load the way a user would, through `plugins.extra`."""
