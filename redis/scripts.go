package redis

import goredis "github.com/redis/go-redis/v9"

// The retention kept in Redis (KEYS "retention") holds over the
// default a script is given (ARGV retentionSec).

// clock is the outbox's: Redis's own, in unix ms, so that every process
// that shares it agrees on when a delivery is due.
const clock = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// event appends to a job's live log: the entry id 0-N is the event's Seq.
const event = `
local function event(job, ev, t, d)
  local seq = redis.call('HINCRBY', job, 'seq', 1)
  redis.call('XADD', ev, '0-' .. seq, 't', t, 'd', d)
end
local function ended(counts, status, verdict)
  redis.call('HINCRBY', counts, status .. ' ' .. verdict, 1)
end
local function retention(key, def)
  return tonumber(redis.call('GET', key) or def)
end
` + clock + `
-- owe puts an ended job with a callback in the outbox, due in delayMs,
-- and wakes one waiting deliverer.
local function owe(job, outbox, wake, id, delayMs)
  if redis.call('HGET', job, 'callback') ~= '1' then return end
  redis.call('ZADD', outbox, 'NX', nowMs() + delayMs, id)
  redis.call('LPUSH', wake, '1')
  redis.call('LTRIM', wake, 0, 0)
end
local function drop(queue, msg)
  redis.call('XACK', queue, 'workers', msg)
  redis.call('XDEL', queue, msg)
end
`

// submit: KEYS job queue queued ev; ARGV cap id field value ...
// Returns the queue's length, or -1 when it is full.
var submitScript = goredis.NewScript(event + `
local n = tonumber(redis.call('GET', KEYS[3]) or '0')
if n >= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
local msg = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
redis.call('HSET', KEYS[1], 'msg', msg, 'status', 'queued', 'attempts', 0)
redis.call('INCR', KEYS[3])
event(KEYS[1], KEYS[4], 'status', 'queued')
return n + 1
`)

// claim starts the job of a queue entry this worker read (or took over).
// KEYS job queued running ev queue ended retention outbox owed; ARGV now consumer msg maxAttempts
// takeover failMessage retentionSec eventsTTLSec id.
// Returns 1 started, 2 failed (out of attempts), 0 nothing to run.
var claimScript = goredis.NewScript(event + `
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'queued' then
  redis.call('DECR', KEYS[2])
elseif st == 'running' and ARGV[5] == '1' then
  local a = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
  if a >= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[1], 'status', 'failed', 'finished', ARGV[1], 'error', ARGV[6])
    redis.call('HDEL', KEYS[1], 'worker')
    redis.call('SREM', KEYS[3], ARGV[9])
    event(KEYS[1], KEYS[4], 'status', 'failed')
    ended(KEYS[6], 'failed', '')
    owe(KEYS[1], KEYS[8], KEYS[9], ARGV[9], 0)
    redis.call('EXPIRE', KEYS[1], retention(KEYS[7], ARGV[7]))
    redis.call('EXPIRE', KEYS[4], ARGV[8])
    drop(KEYS[5], ARGV[3])
    return 2
  end
else
  drop(KEYS[5], ARGV[3])
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started', ARGV[1], 'worker', ARGV[2], 'msg', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('SADD', KEYS[3], ARGV[9])
event(KEYS[1], KEYS[4], 'status', 'running')
return 1
`)

// finish ends a running job, or hands it back to the queue.
// KEYS job running ev queue queued ended retention in outbox owed; ARGV status result error now
// retentionSec eventsTTLSec consumer id msg verdict, where msg is the queue entry
// of this worker's attempt. A finish touches no other entry: a job handed
// back has a new one, which a late finish of an earlier attempt must leave.
// Returns 1 done, 0 when the job is no longer this worker's to end.
var finishScript = goredis.NewScript(event + `
local st = redis.call('HGET', KEYS[1], 'status')
local msg = redis.call('HGET', KEYS[1], 'msg')
if st ~= 'running' then
  if msg and msg == ARGV[9] then drop(KEYS[4], msg) end
  if st == 'canceled' and ARGV[1] == 'canceled' and ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[1], 'result') == 0 then
    redis.call('HSET', KEYS[1], 'result', ARGV[2]) -- what its run wrote until the cancel
  end
  return 0
end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[7] then return 0 end
redis.call('SREM', KEYS[2], ARGV[8])
redis.call('HDEL', KEYS[1], 'worker')
drop(KEYS[4], msg)
if ARGV[1] == 'queued' then
  local m = redis.call('XADD', KEYS[4], '*', 'job', ARGV[8])
  redis.call('HSET', KEYS[1], 'status', 'queued', 'msg', m)
  redis.call('HDEL', KEYS[1], 'started')
  redis.call('INCR', KEYS[5])
  event(KEYS[1], KEYS[3], 'status', 'queued')
  return 1
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished', ARGV[4], 'error', ARGV[3])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[2]) end
event(KEYS[1], KEYS[3], 'status', ARGV[1])
ended(KEYS[6], ARGV[1], ARGV[10])
owe(KEYS[1], KEYS[9], KEYS[10], ARGV[8], 0)
redis.call('EXPIRE', KEYS[1], retention(KEYS[7], ARGV[5]))
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('DEL', KEYS[8])
return 1
`)

// cancel: KEYS job queued running ev ended retention in outbox owed; ARGV now retentionSec
// eventsTTLSec id graceMs, where graceMs delays a running job's delivery
// for the output its worker adds.
// Returns -1 unknown job, 0 already ended, 1 canceled.
var cancelScript = goredis.NewScript(event + `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
local delay = 0
if st == 'queued' then
  redis.call('DECR', KEYS[2])
elseif st == 'running' then
  redis.call('SREM', KEYS[3], ARGV[4])
  delay = tonumber(ARGV[5])
else
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished', ARGV[1])
event(KEYS[1], KEYS[4], 'status', 'canceled')
ended(KEYS[5], 'canceled', '')
owe(KEYS[1], KEYS[8], KEYS[9], ARGV[4], delay)
redis.call('EXPIRE', KEYS[1], retention(KEYS[6], ARGV[2]))
redis.call('EXPIRE', KEYS[4], ARGV[3])
redis.call('DEL', KEYS[7])
return 1
`)

// appendScript adds output to a running job's log: KEYS job ev; ARGV type data.
var appendScript = goredis.NewScript(event + `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
event(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
`)

// input appends to an interactive job's input log while it is queued or
// running: KEYS job in; ARGV type data ttlSec maxStdin. Entry 0-N is the
// event's Seq. Returns 0 when the job takes no input, -1 when its stdin
// would pass maxStdin bytes.
var inputScript = goredis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if (st ~= 'queued' and st ~= 'running') or redis.call('HGET', KEYS[1], 'interactive') ~= '1' then return 0 end
if ARGV[1] == 'stdin' then
  local sent = tonumber(redis.call('HGET', KEYS[1], 'inbytes') or '0')
  if sent + #ARGV[2] > tonumber(ARGV[4]) then return -1 end
  redis.call('HINCRBY', KEYS[1], 'inbytes', #ARGV[2])
end
local seq = redis.call('HINCRBY', KEYS[1], 'inseq', 1)
redis.call('XADD', KEYS[2], '0-' .. seq, 't', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
`)

// hold makes ARGV token the holder of KEYS writer for ARGV ttlMs, unless
// another holds it: 1 held, 0 not.
var holdScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// release ends ARGV token's hold of KEYS writer.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// claimDeliveries takes up to ARGV n due deliveries of KEYS outbox for
// ARGV leaseMs, counting a try of each in KEYS tries: {id, tries, ...}.
var claimDeliveriesScript = goredis.NewScript(clock + `
local now = nowMs()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[1])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HINCRBY', KEYS[2], id, 1)
end
return out
`)

// deferDelivery makes ARGV id of KEYS outbox due in ARGV afterMs and takes
// back the try its claim counted in KEYS tries, if it is still owed.
var deferDeliveryScript = goredis.NewScript(clock + `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', nowMs() + tonumber(ARGV[2]), ARGV[1])
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or 0) > 0 then redis.call('HINCRBY', KEYS[2], ARGV[1], -1) end
return 1
`)

// retryDelivery makes ARGV id of KEYS outbox due in ARGV afterMs, and
// sets its KEYS state to ARGV state for ARGV ttlSec, if it is still owed.
var retryDeliveryScript = goredis.NewScript(clock + `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', nowMs() + tonumber(ARGV[2]), ARGV[1])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
return 1
`)
