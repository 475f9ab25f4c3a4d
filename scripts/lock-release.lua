-- lock-release.lua: releases a lock only if the caller still owns it.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the owner token the lock was taken with (SET key token NX PX ttl)
--
-- Returns 1 when the lock was owned by ARGV[1] and is now deleted, 0 when the key is absent or held by
-- another owner (the lock expired and someone else took it): never deletes another owner's lock.
--
--   EVAL "$(cat scripts/lock-release.lua)" 1 mylock <token>
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
