"""The feature catalog: a read model over the registry and its HTML pages.

:mod:`~sparkfs.portal.readmodel` reads what the pages show, :mod:`~sparkfs.portal.search`
filters and pages it, :mod:`~sparkfs.portal.charts` and :mod:`~sparkfs.portal.graphs` draw the
pictures (SVG), and :mod:`~sparkfs.portal.pages` renders the Jinja2 templates shipped in
``templates/``. The serving app mounts them under ``/catalog``
(:mod:`sparkfs.serving.api.portal`); ``sparkfs report`` (:mod:`sparkfs.report`) reuses them
for the static governance report. Nothing here imports FastAPI.
"""
