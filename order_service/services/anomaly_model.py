"""Learned anomaly scores: each account's orders scored against that account's own history.

Beside the five fixed rules, a per-account online model of robust statistics: for every
order four features are measured in Redis, in the same round trip as the rules' windows,
and each is compared with the account's moving baseline of it:
- `size`: the log of the order's value (quantity x price);
- `rate`: log(1 + the account's orders in the last minute);
- `symbols`: the distinct symbols it traded today;
- `round_trips`: the orders in the last ten minutes on the same symbol, for the same
  quantity, on the other side (a buy then a sell: a wash trade's signature).
A feature's score is how far above its baseline it is, in units of the baseline's typical
deviation: (x - mean) / max(deviation, floor), one-sided (only more, larger, faster is
suspicious). The baseline is a mean and a mean absolute deviation, updated after scoring:
a plain running mean over the first `warmup` orders (the account is not scored until then),
then weighted by elapsed time (an order after `memory_seconds` of quiet moves it by 63 %;
one a second after the last, hardly at all), each value clipped to three spreads from the
mean first (Huber; not while warming up, so a first odd order is averaged away). So abuse
made of many orders in a short time (a burst, a sweep, wash
trades) cannot drag the baseline along, and abuse that drifts (a slow ramp of sizes) is
compared with where the account was, not where it is going. The order's score is its largest
feature score; at or over `medium` it is an anomaly (`learned_score`, MEDIUM; HIGH at or
over `high`).

The state (a hash per account, and its last orders for the round trips) lives in Redis
under the account's hash tag, so replicas share it and a cluster keeps it on one slot. Its
anomalies are advisory: logged (`ORDER_ANOMALY_*` with `rule: learned_score`) and counted,
never CRITICAL (a model's verdict does not refuse or suspend), and not part of the order's
`anomalies` (the contract's closed list of rule types).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from order_service.settings import AnomalyModelSettings

FEATURES = ("size", "rate", "symbols", "round_trips")

# The model's part of the detector's script (order_anomaly_detector.rules_and_model), run
# after the rules' part has recorded the order. It reads the rules' `in_window` and `k_symbols`
# (today's symbols), `k_model` (its state), `k_recent` (the account's last orders), the rules' ARGV[1]
# (now, ms) and ARGV[4] (the symbol), then ARGV[6..8]: log value ('' when unknown), side,
# quantity. The settings are written into the text (`model_lua`): every argument is encoded
# per order, and the constants were half of them. It leaves the orders seen before and one
# score per feature in `model_out`.
_MODEL_LUA = """
local now, sym = tonumber(ARGV[1]), ARGV[4]
local logv, side, qty = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local memory, warmup, ttl = {memory}, {warmup}, {ttl}
local floors = {{{floors}}}
local rate = in_window  -- the rules' count of the last minute, this order included
local distinct = redis.call('SCARD', k_symbols)
local trips = 0
local recent = redis.call('LRANGE', k_recent, 0, 49)
for i = 1, #recent do
  local at, s, y, q = string.match(recent[i], '^(%d+)|(%a+)|(.+)|(%d+)$')
  if y == sym and q == qty and s ~= side and now - tonumber(at) <= 600000 then trips = trips + 1 end
end
redis.call('LPUSH', k_recent, now .. '|' .. side .. '|' .. sym .. '|' .. qty)
redis.call('LTRIM', k_recent, 0, 49)
redis.call('PEXPIRE', k_recent, ttl)
local x = {{logv, math.log(1 + rate), distinct, trips}}
local state = redis.call('HMGET', k_model, 'n', 'm1', 'd1', 'm2', 'd2', 'm3', 'd3', 'm4', 'd4', 't')
local n = tonumber(state[1]) or 0
local last = tonumber(state[10]) or now
-- warming up, a plain running mean; then by elapsed time, so a burst of orders moves it little
local alpha = 1 / (n + 1)
if n >= warmup then alpha = 1 - math.exp(-math.max(now - last, 0) / memory) end
local model_out, update = {{tostring(n)}}, {{'n', tostring(n + 1), 't', tostring(now)}}
for i = 1, 4 do
  local m, d = tonumber(state[2 * i]), tonumber(state[2 * i + 1])
  local z = 0
  if x[i] then
    if m == nil then
      m, d = x[i], floors[i]
    else
      local spread = math.max(d, floors[i])
      z = (x[i] - m) / spread
      local delta = x[i] - m
      if n >= warmup then  -- an outlier moves the baseline as one three spreads away would (Huber)
        delta = math.max(-3 * spread, math.min(3 * spread, delta))
      end
      m = m + alpha * delta
      d = d + alpha * (math.abs(delta) - d)
    end
    local at = #update
    update[at + 1], update[at + 2] = 'm' .. i, string.format('%.6f', m)
    update[at + 3], update[at + 4] = 'd' .. i, string.format('%.6f', d)
  end
  model_out[#model_out + 1] = string.format('%.3f', n >= warmup and math.max(z, 0) or 0)
end
redis.call('HSET', k_model, unpack(update))
redis.call('PEXPIRE', k_model, ttl)
"""


@dataclass(frozen=True)
class LearnedScore:
    """One order's feature scores against its account's baseline (zeros while the account warms up)."""

    orders_before: int
    scores: dict[str, float]

    @property
    def score(self) -> float:
        """The order's score: its largest feature score."""
        return max(self.scores.values())

    @property
    def feature(self) -> str:
        """The feature that scored highest."""
        return max(self.scores, key=lambda name: self.scores[name])


def model_lua(settings: AnomalyModelSettings) -> str:
    """The model's Lua with `settings` written in."""
    floors = (settings.floor_size, settings.floor_rate, settings.floor_symbols, settings.floor_round_trips)
    return _MODEL_LUA.format(
        memory=int(settings.memory_seconds * 1000),
        warmup=settings.warmup,
        ttl=int(settings.state_ttl_seconds * 1000),
        floors=", ".join(repr(float(f)) for f in floors),
    )


def model_args(value: Decimal | None, side: str, quantity: int) -> list[str | int | float]:
    """The model's ARGV for one order (after the rules' five)."""
    return [math.log(float(value)) if value is not None and value > 0 else "", side, quantity]


def parse_reply(reply: list[bytes | str]) -> LearnedScore:
    """The step's reply: the orders seen before this one, then one score per feature."""
    values = [float(v) for v in reply]
    return LearnedScore(int(values[0]), dict(zip(FEATURES, values[1:], strict=True)))


__all__ = ["FEATURES", "LearnedScore", "model_args", "model_lua", "parse_reply"]
