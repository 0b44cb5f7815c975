"""The pipeline layer: jobs that take a :class:`~sparkfs.pipeline.workspace.Workspace`.

Each job resolves definitions from the repository and the registry, checks governance, calls
an engine (:mod:`sparkfs.offline`, :mod:`sparkfs.training`, :mod:`sparkfs.online`,
:mod:`sparkfs.quality`) with DataFrames, a session and plain settings, and records its run
(:mod:`sparkfs.pipeline.runs`). The interfaces (``FeatureStore``, the CLI, ``jobs/``, the
serving app) call these functions and nothing below them.
"""
