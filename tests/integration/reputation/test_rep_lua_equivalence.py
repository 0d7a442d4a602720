"""The cheaper reputation Lua (`REP_LUA`: `rep_save` without a table per entry or a pattern per name) does
exactly what the scripts it replaced did.

The old texts are kept below verbatim.  Both versions run on the real Redis, each under its own key
prefix, through the same thousands of random operation sequences: comment-checks through the gate
script (rate windows, the monthly allowance, varied signal counts and modes: shared, opted-out,
is_test), `_RECORD_SCRIPT`, spam/ham reports and retractions (`_REPORT_SCRIPT`, shared and private
marks, replays at earlier times), blobs written directly (malformed, hostile, at and over every
class's cap, with ties), and a clock crossing the burst window, the hour buckets and the 7-day
window (at its exact edges too).  Every reply and, after every operation, every reputation string
must be identical; at the end, every key's value too, and its TTL within a second.
"""

from __future__ import annotations

import random
from collections import Counter

from spamguard.gate import GATE_SCRIPT
from spamguard.reputation.store import _RECORD_SCRIPT, _REPORT_SCRIPT, CAPS

# The scripts as they were before the cheaper `rep_save` (spamguard/reputation/store.py and spamguard/gate.py
# at 99a03ac), verbatim but for `{CAPS}`, substituted with the CAPS of that commit.
OLD_REP_LUA = """
local REP_CAPS = {c = 170, b = 100, r = 200, u = 100}
local REP_CLASS = {c = 'c', b = 'b', u = 'u', s = 'r', h = 'r', ps = 'r', ph = 'r'}
local function rep_load(blob)
  local e = {}
  if blob then
    for name, value in string.gmatch(blob, '([^ =]+)=([^ ]+)') do e[name] = value end
  end
  return e
end
local function rep_save(key, e, now, keep, slot, window, ttl)
  local groups = {c = {}, b = {}, r = {}, u = {}}
  for name, value in pairs(e) do
    local class = REP_CLASS[string.match(name, '^(%a+):') or '']
    local t, kept = nil, false
    if class == 'c' then
      t = tonumber(string.sub(name, 3))
      if t then t = t * 3600 + 1800 end
    elseif class == 'u' then
      t = tonumber(string.match(name, ':(%d+)$'))
      if t then t = (t + 1) * slot; kept = now - t < window end
    elseif class then
      t = tonumber(value)
    end
    if t and class ~= 'u' then kept = now - t <= keep end
    if kept then
      local list = groups[class]
      list[#list + 1] = {t, name, value}
    end
  end
  local parts = {}
  for class, list in pairs(groups) do
    if #list > REP_CAPS[class] then
      table.sort(list, function(x, y) return x[1] > y[1] or (x[1] == y[1] and x[2] < y[2]) end)
    end
    for i = 1, math.min(#list, REP_CAPS[class]) do parts[#parts + 1] = list[i][2] .. '=' .. list[i][3] end
  end
  if #parts == 0 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, table.concat(parts, ' '), 'EX', ttl)
  end
end
local function rep_add(e, name, n)
  e[name] = tostring((tonumber(e[name]) or 0) + n)
end
local function rep_write(keys, base, blobs, modes, now_s, hour, blog, burst, keep, slot, window, ttl)
  local now = tonumber(now_s)
  for i = 1, #modes do
    local mode = string.sub(modes, i, i)
    if mode ~= '0' then
      local e = rep_load(blobs[i])
      if mode == '1' or mode == '2' then
        rep_add(e, hour, 1)
        e[blog] = now_s
      end
      if mode == '2' or mode == '3' then rep_add(e, burst, 1) end
      rep_save(keys[base + i], e, now, tonumber(keep), tonumber(slot), tonumber(window), ttl)
    end
  end
end
"""

OLD_GATE = (
    OLD_REP_LUA
    + """
local nr, nk, monthly = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local usage, dirty = KEYS[nr + 1], KEYS[nr + 2]
if monthly > 0 and tonumber(redis.call('HGET', usage, 'api_calls') or '0') >= monthly then
  return {1, 0, 0, 0}
end
for i = 1, nr do
  local n = redis.call('INCR', KEYS[i])
  local seconds = tonumber(ARGV[14 + 2 * i])
  if n == 1 then redis.call('EXPIRE', KEYS[i], seconds) end
  if n > tonumber(ARGV[13 + 2 * i]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then redis.call('EXPIRE', KEYS[i], seconds); ttl = seconds end
    return {2, i, ttl, 0}
  end
end
local calls = redis.call('HINCRBY', usage, 'api_calls', 1)
if calls == 1 then redis.call('EXPIRE', usage, tonumber(ARGV[4])) end
redis.call('SADD', dirty, ARGV[5])
local out = {0, 0, 0, calls}
if nk > 0 then
  local base = nr + 2
  local blobs = redis.call('MGET', unpack(KEYS, base + 1, base + nk))
  for i = 1, nk do out[4 + i] = blobs[i] end
  rep_write(KEYS, base, blobs, ARGV[10], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
end
return out
"""
)

OLD_RECORD = (
    OLD_REP_LUA
    + """
local blobs = redis.call('MGET', unpack(KEYS))
rep_write(KEYS, 0, blobs, ARGV[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
return 1
"""
)

OLD_REPORT = (
    OLD_REP_LUA
    + """
local blobs = redis.call('MGET', unpack(KEYS))
local site, mark, now_s = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(now_s)
for i = 1, #KEYS do
  local e = rep_load(blobs[i])
  local old = mark ~= '' and e[mark .. ':' .. site]
  for _, m in ipairs({'s', 'h', 'ps', 'ph'}) do e[m .. ':' .. site] = nil end
  if mark ~= '' then
    e[mark .. ':' .. site] = (old and (tonumber(old) or 0) > now) and old or now_s
  end
  rep_save(KEYS[i], e, now, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7])
end
return 1
"""
)

KEEP, TTL, USAGE_TTL = 7 * 86400, 8 * 86400, 40 * 86400
BURSTS = [(6.0, 60.0), (0.1, 1.0), (360.0, 3600.0)]  # (slot, window) of 5/minute, 10/second, 5/hour
MARKS = ["s", "h", "ps", "ph"]
SEQUENCES = 1500
T0 = 1_800_000_000.0


def malformed(rng: random.Random, now: float, slot: float, site: int) -> str:
    hour, slot_no = int(now // 3600), int(now // slot)
    return rng.choice(
        [
            "c:abc=1", "c:=1", "c:1e3=5", "c:0x10=2", "c:inf=1", "c:nan=1", "c:-inf=1", f"c:{hour}.5=1",
            f"c:0{hour}=2", f"c: {hour}=1", f"c:{hour}=abc", f"c:{hour}=1.5", f"c:{hour}=1e20", f"c:{hour}=-3",
            "u:1:=3", "u:x=2", "u:1:2:3=1", f"u:{slot_no}=1", f"u:{site}:{slot_no}:x=1", "u:1:9" + "9" * 30 + "=1",
            f"u:{site}:{slot_no}=x", f"u:{site}:0{slot_no}=4", f"u:{site}:{slot_no}.0=1", "u:=1", "u::5=1",
            "s:1=nan", "h:2=inf", "ps:3=-inf", f"ph:4= {now!r}", "b:x=0x10", "b:y=1e9", "b:z=abc", f"s:{site}={now + 5e5!r}",
            "=x", "x=", "a=b=c", "p:1=2", "psx:1=3", "pp:1=2", "cc:5=1", "C:5=1", "s1:2=3", "sh:1=2", "ps=1",
            f"h:={now!r}", "ps:=1", f"b:={now!r}", "\u00e9:1=2", "==", "=", ":=:", f"s:{site}={now!r}={now!r}",
            "".join(rng.choice("cbuhps:=0123456789.-e x") for _ in range(rng.randint(1, 30))),
        ]
    )  # fmt: skip


def wellformed(rng: random.Random, now: float, slot: float, sites: list[int]) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"c:{int(now // 3600) - rng.randint(-3, 175)}={rng.randint(1, 500)}"
    if kind == 1:
        return f"b:{rng.getrandbits(40):010x}={now - rng.uniform(-600, 8 * 86400)!r}"
    if kind == 2:
        return f"{rng.choice(MARKS)}:{rng.choice(sites)}={now - rng.uniform(-600, 8 * 86400)!r}"
    return f"u:{rng.choice(sites)}:{int(now // slot) - rng.randint(-2, 14)}={rng.randint(1, 30)}"


def over_caps(rng: random.Random, now: float, slot: float) -> list[str]:
    """More kept entries of a class than its cap, ties in time included (which the names break)."""
    hour, slot_no = int(now // 3600), int(now // slot)
    parts: list[str] = []
    if rng.random() < 0.5:  # future hours are kept too; `c:0<h>` is the same hour under another name
        parts += [f"c:{hour - k}={rng.randint(1, 9)}" for k in range(-30, rng.randint(150, 200))]
        parts += [f"c:0{hour - k}=1" for k in range(rng.randint(0, 10))]
    if rng.random() < 0.5:
        stamps = [repr(now - rng.uniform(0, 7 * 86400)) for _ in range(40)]
        parts += [f"b:{i:06x}={rng.choice(stamps)}" for i in range(rng.randint(90, 130))]
    if rng.random() < 0.5:
        stamps = [repr(now - rng.uniform(0, 7 * 86400)) for _ in range(60)]
        parts += [f"{rng.choice(MARKS)}:{i}={rng.choice(stamps)}" for i in range(rng.randint(180, 240))]
    if rng.random() < 0.5:
        parts += [f"u:{i}:{slot_no - rng.randint(0, 9)}={rng.randint(1, 9)}" for i in range(rng.randint(90, 130))]
    return parts


def blob(rng: random.Random, now: float, slot: float, sites: list[int]) -> str:
    parts = [wellformed(rng, now, slot, sites) for _ in range(rng.choice([0, 1, 3, 10, 40]))]
    parts += [malformed(rng, now, slot, rng.choice(sites)) for _ in range(rng.choice([0, 1, 2, 8]))]
    if rng.random() < 0.3:
        parts += over_caps(rng, now, slot)
    if parts and rng.random() < 0.2:
        parts += rng.sample(parts, k=min(len(parts), 5))  # the same name twice: the later value is the one read
    rng.shuffle(parts)
    text = rng.choice([" ", " ", "  "]).join(parts)
    return rng.choice(["", " "]) + text + rng.choice(["", " "])


def advance(rng: random.Random, now: float, slot: float, window: float, checks: list[float]) -> float:
    roll = rng.random()
    if roll < 0.25:
        return now + rng.uniform(0, slot)
    if roll < 0.45:
        return now + rng.uniform(0, 1.5 * window)
    if roll < 0.65:
        return now + rng.uniform(0, 6 * 3600)
    if roll < 0.78:
        return now + rng.uniform(0, 3 * 86400)
    if roll < 0.88:
        return now + rng.uniform(6.5 * 86400, 7.5 * 86400)
    if not checks:
        return now
    earlier = rng.choice(checks)  # exactly at an edge: an hour bucket's, a blog time's or a burst slot's
    return rng.choice(
        [
            int(earlier // 3600) * 3600 + 1800 + KEEP,
            earlier + KEEP,
            (int(earlier // slot) + 1) * slot + window,
            (int(earlier // slot) + 1) * slot + window - slot,
        ]
    )


def operations(rng: random.Random) -> tuple[list[tuple], list[str], list[str]]:
    """One random sequence: its operations (kind, key names, ARGV), its reputation keys, its other keys."""
    slot, window = rng.choice(BURSTS)
    limits = [KEEP, repr(slot), repr(window), TTL]
    sites = list(range(1, rng.randint(2, 7)))
    reps = [f"rep:{k}" for k in range(rng.randint(1, 6))]
    blogs = [f"b:{k:020x}" for k in range(rng.randint(1, 3))]
    rates = [(f"rate:{k}", rng.randint(1, 30), rng.choice([60, 3600])) for k in range(rng.randint(0, 2))]
    monthly = rng.choice([0, 0, rng.randint(1, 20)])
    now = T0 + rng.uniform(0, 86400)
    checks: list[float] = []
    ops: list[tuple] = []
    for _ in range(rng.randint(1, 20)):
        now = advance(rng, now, slot, window, checks)
        site = rng.choice(sites)
        keys = rng.sample(reps, k=rng.randint(1, len(reps)))
        roll = rng.random()
        if roll < 0.5:
            checks.append(now)
            style = rng.random()
            if style < 0.55:  # a sharing site (the IP is the first signal)
                modes = "2" + "1" * (len(keys) - 1)
            elif style < 0.7:  # an opted-out site
                modes = "3" + "0" * (len(keys) - 1)
            elif style < 0.8:  # is_test
                modes = "0" * len(keys)
            else:
                modes = "".join(rng.choice("0123") for _ in keys)
            write = [repr(now), f"c:{int(now // 3600)}", rng.choice(blogs), f"u:{site}:{int(now // slot)}", modes]
            if rng.random() < 0.8:
                args = [len(rates), len(keys), monthly, USAGE_TTL, str(site), *write, *limits]
                args += [v for _, amount, seconds in rates for v in (amount, seconds)]
                ops.append(("gate", [name for name, _, _ in rates] + ["usage", "dirty", *keys], args))
            else:
                ops.append(("record", keys, write + limits))
        elif roll < 0.8:
            when = now - rng.choice([0.0, 0.0, rng.uniform(0, 3 * 86400)])  # feedback replayed later
            mark = rng.choice([*MARKS, ""])
            ops.append(("report", keys, [site, mark, repr(when), *limits]))
        elif roll < 0.95:
            ops.append(("set", [rng.choice(reps)], [blob(rng, now, slot, sites), rng.choice([None, 60, TTL])]))
        else:
            ops.append(("del", [rng.choice(reps)], []))
    return ops, reps, [name for name, _, _ in rates]


def at_a_cap(blob: str) -> bool:
    """Whether some class of the string holds exactly its cap of entries (the sorted path ran)."""
    counts = Counter(entry.split(":", 1)[0] for entry in blob.split(" "))
    counts["r"] = sum(counts[mark] for mark in MARKS)
    return any(counts[k] == cap for k, cap in CAPS.items())


def run(pipe, side: str, shas: dict[str, str], op: tuple) -> None:
    kind, names, args = op
    keys = [side + name for name in names]
    if kind == "set":
        pipe.set(keys[0], args[0], ex=args[1])
    elif kind == "del":
        pipe.delete(keys[0])
    else:
        pipe.evalsha(shas[kind], len(keys), *keys, *args)


def same_reply(kind: str, old, new) -> bool:
    if isinstance(old, Exception) or isinstance(new, Exception):
        return type(old) is type(new) and str(old) == str(new)
    if kind == "gate" and old[0] == 2 and new[0] == 2:  # a rate window's TTL in seconds: one may round across
        return old[:2] == new[:2] and abs(old[2] - new[2]) <= 1 and old[3:] == new[3:]
    return old == new


def test_old_and_new_reputation_scripts_answer_and_store_the_same(state):
    assert CAPS == {"c": 170, "b": 100, "r": 200, "u": 100}  # the caps written into OLD_REP_LUA
    client = state.client
    olds = {"gate": OLD_GATE, "record": OLD_RECORD, "report": OLD_REPORT}
    news = {"gate": GATE_SCRIPT, "record": _RECORD_SCRIPT, "report": _REPORT_SCRIPT}
    assert all(olds[k] != news[k] for k in olds)
    old_shas = {kind: client.script_load(text) for kind, text in olds.items()}
    new_shas = {kind: client.script_load(text) for kind, text in news.items()}
    rng = random.Random(20261129)
    stored = at_cap = 0
    for seq in range(SEQUENCES):
        ops, reps, rates = operations(rng)
        old_side, new_side = f"{state.prefix}{seq}:old:", f"{state.prefix}{seq}:new:"
        pipe = client.pipeline(transaction=False)
        for op in ops:  # each operation on both sides, next to each other, then both sides' strings
            run(pipe, old_side, old_shas, op)
            pipe.mget([old_side + name for name in reps])
            run(pipe, new_side, new_shas, op)
            pipe.mget([new_side + name for name in reps])
        replies = pipe.execute(raise_on_error=False)
        for i, op in enumerate(ops):
            old, old_blobs, new, new_blobs = replies[4 * i : 4 * i + 4]
            assert same_reply(op[0], old, new), (seq, i, op, old, new)
            assert old_blobs == new_blobs, (seq, i, op)
            stored += sum(1 for b in old_blobs if b)
            at_cap += sum(1 for b in old_blobs if b and at_a_cap(b))
        keys = [*reps, *rates, "usage", "dirty"]
        for name in keys:
            for side in (old_side, new_side):
                pipe.dump(side + name)
                pipe.pttl(side + name)
        final = pipe.execute()
        for k, name in enumerate(keys):
            old_dump, old_ttl, new_dump, new_ttl = final[4 * k : 4 * k + 4]
            assert old_dump == new_dump, (seq, name)
            assert (old_ttl < 0 and old_ttl == new_ttl) or abs(old_ttl - new_ttl) < 1000, (seq, name, old_ttl, new_ttl)
        client.delete(*[side + name for name in keys for side in (old_side, new_side)])
    # The sequences did exercise what they are meant to: many strings, many with a class cut to its cap.
    assert stored > 20_000 and at_cap > 200, (stored, at_cap)
