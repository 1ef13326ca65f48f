"""openminutes: records open-source project meetings on IRC and Matrix and publishes
their minutes. Installed, every part lives under this package; in the repository the
parts stay at the top level (chat/, meetings/, plugins/, storage/, templates/ ...) and
this folder links to them, so the same imports work in both."""

__version__ = "0.2.0"
