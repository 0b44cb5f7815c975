"""The offline store: Delta tables of feature values and the transformations that fill them."""
