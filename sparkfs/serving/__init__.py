"""Online serving: the lookup shared by HTTP and ``FeatureStore``, and the FastAPI app.

``sparkfs.serving.app.create_app`` builds the HTTP service; everything else in this package
(catalog, lookup, auth, cache, metrics) is plain Python and never imports FastAPI.
"""

from __future__ import annotations

__all__: list[str] = []
