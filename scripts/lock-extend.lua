-- lock-extend.lua: extends a lock's time to live only if the caller still owns it.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the owner token the lock was taken with (SET key token NX PX ttl)
-- ARGV[2]  the new time to live in milliseconds, counted from now
--
-- Returns 1 when the lock was owned by ARGV[1] and its TTL is now ARGV[2] ms, 0 when the key is absent
-- or held by another owner: never extends another owner's lock.
--
--   EVAL "$(cat scripts/lock-extend.lua)" 1 mylock <token> 30000
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
