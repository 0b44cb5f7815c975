"""``sparkfs report``: the governance checklist and lineage report as static files.

:mod:`~sparkfs.report.checklist` holds the rules, :mod:`~sparkfs.report.build` evaluates them
over the registry, :mod:`~sparkfs.report.writers` writes HTML (self-contained), Markdown and
JSON. The content is the catalog's (:mod:`sparkfs.portal`); docs/catalog.md lists the rules.
"""
