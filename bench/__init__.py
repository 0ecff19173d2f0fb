"""Benchmarks (`make bench`): scripts that print figures; none of it is part of the product."""
