"""Training sets: point-in-time correct joins of a spine against offline feature tables."""
