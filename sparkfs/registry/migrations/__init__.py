"""Alembic revisions of the registry schema, applied by :mod:`sparkfs.registry.migration`.

``versions/`` holds one file per revision, oldest first: ``0001_first_schema`` is the registry
as the first sparkfs created it, each later one what changed since. A revision is frozen once
released: it spells out its own tables and SQL instead of importing today's
:mod:`sparkfs.registry.schema`, so that upgrading from it does the same thing in every later
sparkfs. To change the schema: change :mod:`sparkfs.registry.schema`, add the next revision
here (``down_revision`` = the current head), and ``tests/registry/test_migrations.py`` checks
that a registry migrated from the first revision has exactly the tables the code declares.
"""
