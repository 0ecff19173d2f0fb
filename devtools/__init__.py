"""Development tools, never part of a production deployment: the demo data `make run` seeds.

Installed only when `settings.CTI_DEV_TOOLS` is on (default: DEBUG); `make run` turns it on for
its seeding commands, the test settings always. The product packages never import this package
(tests/test_architecture.py).
"""
