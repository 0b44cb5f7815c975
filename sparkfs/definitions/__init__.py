"""Feature definitions: the models (:mod:`.models`) and the YAML loader (:mod:`.loader`).

``from sparkfs.definitions import FeatureView`` reads the models; the loader that turns a
feature repository's YAML files into them is :mod:`sparkfs.definitions.loader`, and the
registry's store of applied versions is :mod:`sparkfs.registry.versions`.
"""

from __future__ import annotations

from sparkfs.definitions import models
from sparkfs.definitions.models import *  # noqa: F403  (the models' own __all__ is the public list)

__all__ = list(models.__all__)
