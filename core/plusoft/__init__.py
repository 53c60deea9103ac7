"""Plusoft's transactional-load API: the payload mapping, the HTTP client, the sync and a stand-in."""
