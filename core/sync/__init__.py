"""Plusoft's transactional-load API: payload mapping, HTTP client, the sync, a stand-in."""
