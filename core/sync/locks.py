"""One sync per entity at a time: a Redis lock per entity, held by the job syncing it.

The lock's value is the job id, so a second trigger can answer with the running job. It
expires unless renewed (every batch), which is how a crashed worker's lock goes away.
"""
from __future__ import annotations

from collections.abc import Sequence

from core.redis_client import get_redis

# All or nothing: if any entity is held by another job, return that job and take nothing.
_ACQUIRE = """
for _, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder and holder ~= ARGV[1] then return holder end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'EX', ARGV[2]) end
return false
"""
# Only the holder renews or releases: a late task of an old job cannot touch a new job's lock.
_RENEW = """
local renewed = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('EXPIRE', key, ARGV[2]); renewed = renewed + 1
  end
end
return renewed
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""


def lock_key(entidade: str) -> str:
    return f"stockflow:sync:lock:{entidade}"


def acquire(entidades: Sequence[str], job_id: str, ttl_s: int) -> str | None:
    """Lock every entity for job_id; return None on success or the job id already holding one."""
    holder = get_redis().eval(_ACQUIRE, len(entidades), *map(lock_key, entidades), job_id, ttl_s)
    return holder or None


def renew(entidades: Sequence[str], job_id: str, ttl_s: int) -> int:
    """Extend the locks job_id still holds; return how many it holds."""
    return int(get_redis().eval(_RENEW, len(entidades), *map(lock_key, entidades), job_id, ttl_s))


def release(entidades: Sequence[str], job_id: str) -> None:
    """Drop the locks job_id holds (others' locks are left alone)."""
    get_redis().eval(_RELEASE, len(entidades), *map(lock_key, entidades), job_id)


def holder(entidade: str) -> str | None:
    """Return the job id syncing this entity now, or None."""
    return get_redis().get(lock_key(entidade))
