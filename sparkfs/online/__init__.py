"""The online store: Redis / Redis Cluster key layout, bulk writer, reader and sync engine."""
