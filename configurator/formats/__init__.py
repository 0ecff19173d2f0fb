"""Date formats of the admin UI per language (FORMAT_MODULE_PATH), over Django's own locale formats."""
