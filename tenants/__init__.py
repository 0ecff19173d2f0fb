"""Tenants, their members (tenant admins) and their API keys for the matching API."""
