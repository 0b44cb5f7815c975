"""The offline store: feature views materialized into versioned Delta tables."""
