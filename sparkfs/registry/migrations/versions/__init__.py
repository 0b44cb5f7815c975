"""The revision files (see :mod:`sparkfs.registry.migrations`)."""
