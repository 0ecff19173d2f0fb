"""Bench-only Django pieces: the one-lookup floor view and the settings/URLconf that serve it next
to the product (never part of the product's URLs)."""
