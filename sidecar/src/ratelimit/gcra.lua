-- GCRA over several keys at once, all or nothing (rampart serve --rate-limit-store).
--
-- KEYS[i]    one key per rate_limit obligation of the request;
-- ARGV[2i-1] the emission interval of KEYS[i] in microseconds (period / limit, at least 1);
-- ARGV[2i]   its burst capacity in microseconds (limit * interval).
--
-- A key holds one integer: its theoretical arrival time (TAT), in microseconds of this
-- server's clock (TIME), so that the replicas' clocks do not matter. A request fits when
-- max(TAT, now) + interval - now <= capacity: exactly a token bucket of `limit` tokens that
-- regains `limit` per period. Each key expires when its bucket would be full again.
--
-- Returns {0, 0} when every key had room (each then took one), else {i, wait}: KEYS[i] has
-- no room for `wait` more microseconds, and no key was touched.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  if interval == nil or capacity == nil or interval < 1 or capacity < interval then
    return redis.error_reply('rampart: bad rate-limit arguments')
  end
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then
    tat = now
  end
  local next_tat = tat + interval
  if next_tat - now > capacity then
    return {i, next_tat - now - capacity}
  end
  tats[i] = next_tat
end
for i, key in ipairs(KEYS) do
  local ttl_ms = math.ceil((tats[i] - now) / 1000)
  redis.call('SET', key, string.format('%d', tats[i]), 'PX', ttl_ms)
end
return {0, 0}
