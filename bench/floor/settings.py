"""Bench-only settings: the product's settings (from the environment, as in production) with
`bench.floor.urls` as URLconf, which adds the floor view to the product's URLs."""

from configurator.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor.urls"
