"""Order anomaly detection: five rules per trading account, on sliding windows shared in Redis.

| rule                  | flagged when (strictly more than the threshold)              |
| --------------------- | ------------------------------------------------------------ |
| HIGH_FREQUENCY_ORDERS | > 30 orders in the last 60 s (sliding, by exchange time)     |
| LARGE_ORDER_SIZE      | > 50,000 quantity, or > 1,000,000 INR value (Decimal)        |
| UNUSUAL_SYMBOLS       | > 15 distinct symbols in the account's IST trading day       |
| OFF_HOURS_ACTIVITY    | outside the exchange's sessions of the day (calendar service)|
| RAPID_CANCELLATIONS   | > 20 cancellations in the last 60 s                          |

Severity grows with how far over the threshold an event is (observed / threshold): up to
1.25x LOW, up to 1.5x MEDIUM, up to 2x HIGH, beyond CRITICAL; off-hours activity is
MEDIUM. HIGH and CRITICAL log `ORDER_ANOMALY_CRITICAL`, MEDIUM `ORDER_ANOMALY_WARNING`,
LOW `ORDER_ANOMALY_NOTICE`, each a JSON line; all are counted by type and severity.

Windows are updated atomically in one round trip per event (a Lua script; a market order's
last traded price, `market:ltp:<symbol>`, is read in the same pipeline), so replicas share them and two
concurrent orders cannot both slip under a limit. Keys carry the account in a hash tag
(`anomaly:{ZX1234}:orders`) so the script runs on Redis Cluster too, and expire by
themselves. Order times are exchange timestamps; naive datetimes are refused.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import NoScriptError

from order_service import keys, tracing
from order_service.clients.models import TradingDay
from order_service.services.anomaly_model import LearnedScore, model_args, model_lua, parse_reply
from order_service.settings import AnomalyModelSettings, AnomalySettings

log = logging.getLogger("order_service.anomaly")
IST = timezone(timedelta(hours=5, minutes=30), "IST")
WINDOW_MS = 60_000

_RECORD_ORDER = """
local orders, symbols = KEYS[1], KEYS[2]
local now, window, member, symbol, day_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
redis.call('ZREMRANGEBYSCORE', orders, '-inf', now - window)
redis.call('ZADD', orders, now, member)
redis.call('PEXPIRE', orders, window + 1000)
local in_window = redis.call('ZCOUNT', orders, now - window + 1, now)
redis.call('SADD', symbols, symbol)
redis.call('EXPIRE', symbols, day_ttl)
return {in_window, redis.call('SCARD', symbols)}
"""


def rules_and_model(model: AnomalyModelSettings) -> str:
    """The rules' windows and the learned model in one script (one round trip).

    KEYS: the orders window, today's symbols, the model's state, the account's recent orders;
    ARGV: the rules' five, then the model's three. Returns the rules' two counts, then the
    model's scores.
    """
    return (
        _RECORD_ORDER.replace("return {in_window, redis.call('SCARD', symbols)}", "")
        + "local k_symbols, k_model, k_recent = KEYS[2], KEYS[3], KEYS[4]\n"
        + model_lua(model)
        + "return {in_window, distinct, unpack(model_out)}\n"
    )


_RECORD_CANCEL = """
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], window + 1000)
return redis.call('ZCOUNT', KEYS[1], now - window + 1, now)
"""


class AnomalyType(StrEnum):
    HIGH_FREQUENCY_ORDERS = "high_frequency_orders"  # >30 orders/minute
    LARGE_ORDER_SIZE = "large_order_size"  # >50k quantity or >10L value
    UNUSUAL_SYMBOLS = "unusual_symbols"  # >15 symbols/day
    OFF_HOURS_ACTIVITY = "off_hours_activity"  # Orders outside the session
    RAPID_CANCELLATIONS = "rapid_cancellations"  # >20 cancellations/minute
    LEARNED_SCORE = "learned_score"  # the account's own baseline (anomaly_model): advisory, logged only


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


RANK = {severity: rank for rank, severity in enumerate(Severity)}


def last_price_key(symbol: str) -> str:
    """Where the market-data cache keeps a symbol's last traded price (a decimal string)."""
    return f"{keys.MARKET}:ltp:{symbol}"


def severity_for(observed: Decimal, threshold: Decimal) -> Severity:
    ratio = observed / threshold
    if ratio <= Decimal("1.25"):
        return Severity.LOW
    if ratio <= Decimal("1.5"):
        return Severity.MEDIUM
    if ratio <= 2:
        return Severity.HIGH
    return Severity.CRITICAL


@dataclass(frozen=True)
class Anomaly:
    type: AnomalyType
    severity: Severity
    observed: str
    threshold: str

    def as_dict(self) -> dict[str, str]:
        return {
            "type": self.type.value,
            "severity": self.severity.value,
            "observed": self.observed,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class OrderEvent:
    account: str
    exchange: str
    tradingsymbol: str
    quantity: int
    price: Decimal | None  # the limit price; None for market orders
    at: datetime  # the exchange timestamp, with its offset
    after_market: bool = False
    order_id: str | None = None
    side: str = "BUY"  # BUY or SELL (the learned model's round trips)


@dataclass(frozen=True)
class Verdict:
    anomalies: tuple[Anomaly, ...]
    tags: tuple[str, ...] = ()  # e.g. "after_market": noted, not flagged
    learned: Anomaly | None = None  # the learned score's finding: reported, not one of the order's anomalies
    score: LearnedScore | None = None  # the learned model's scores, when it ran

    @property
    def critical(self) -> bool:
        return any(a.severity is Severity.CRITICAL for a in self.anomalies)


class Calendar(Protocol):
    async def get_trading_day(self, exchange: str, day: date) -> TradingDay: ...


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("order times need a UTC offset (naive datetimes are refused)")
    return moment.astimezone(IST)


def trading_window(day: TradingDay) -> tuple[time, time] | None:
    """From the first session's start to the last session's end (post-close excluded), both inside."""
    sessions = [s for s in day.sessions if s.kind != "post_close"] or list(day.sessions)
    if not sessions:
        return None
    return min(time.fromisoformat(s.start) for s in day.sessions), max(time.fromisoformat(s.end) for s in sessions)


class OrderAnomalyDetector:
    def __init__(
        self,
        redis: aioredis.Redis,
        settings: AnomalySettings,
        *,
        calendar: Calendar | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._calendar = calendar
        self._record_order = redis.register_script(_RECORD_ORDER)
        self._record_cancel = redis.register_script(_RECORD_CANCEL)
        self._model = redis.register_script(rules_and_model(settings.model)) if settings.model.enabled else None
        self._counter = Counter(
            "order_service_order_anomalies_total",
            "Order anomalies by type and severity.",
            ["type", "severity"],
            registry=registry or CollectorRegistry(),
        )

    # -- events --------------------------------------------------------------------------
    async def check_order(self, event: OrderEvent, *, report: bool = True) -> Verdict:
        """The order's findings, counted in its account's windows; logged unless `report` is off.

        A caller that learns the order id only after the check (the id comes with the commit)
        passes `report=False` and calls `report` with the id.
        """
        at = _require_aware(event.at)
        now_ms = int(at.timestamp() * 1000)
        tag = f"{{{event.account}}}"
        day_end = datetime.combine(at.date() + timedelta(days=1), time(0), IST)
        member = event.order_id or uuid.uuid4().hex
        # the day's symbols live until an hour past the IST midnight that ends the order's day
        day_ttl = int((day_end - at).total_seconds()) + 3600
        args: list[str | int] = [now_ms, WINDOW_MS, member, event.tradingsymbol, day_ttl]
        keys_ = [f"{keys.ANOMALY}:{tag}:orders", f"{keys.ANOMALY}:{tag}:symbols:{at:%Y%m%d}"]
        price = event.price
        learned: LearnedScore | None = None
        with tracing.span("redis anomaly_windows", tracing.REDIS):
            if self._model is not None:  # the rules' windows, the price and the model: one round trip
                (in_window, symbols), last, learned = await self._with_model(keys_, args, event, now_ms, tag, price)
                if price is None and last is not None:
                    price = Decimal(last.decode() if isinstance(last, bytes) else last)
            elif price is None:  # a market order: its last traded price comes in the same round trip
                (in_window, symbols), last = await self._order_and_price(keys_, args, event.tradingsymbol)
                price = Decimal(last.decode() if isinstance(last, bytes) else last) if last is not None else None
            else:
                in_window, symbols = await self._record_order(keys=keys_, args=args)

        s = self._settings
        found = [
            *self._over(AnomalyType.HIGH_FREQUENCY_ORDERS, Decimal(in_window), Decimal(s.orders_per_minute)),
            *self._over(AnomalyType.UNUSUAL_SYMBOLS, Decimal(symbols), Decimal(s.symbols_per_day)),
        ]
        large = self._over(AnomalyType.LARGE_ORDER_SIZE, Decimal(event.quantity), Decimal(s.max_quantity))
        if price is not None:  # value is quantity x limit price, or x the last traded price
            large += self._over(AnomalyType.LARGE_ORDER_SIZE, Decimal(event.quantity) * price, s.max_value)
        if large:  # one finding per rule: the more severe of quantity and value
            found.append(max(large, key=lambda a: RANK[a.severity]))
        tags: list[str] = []
        if event.after_market:
            tags.append("after_market")
        elif not await self._in_session(event.exchange, at):
            found.append(
                Anomaly(
                    AnomalyType.OFF_HOURS_ACTIVITY,
                    Severity.MEDIUM,
                    at.isoformat(timespec="seconds"),
                    "the exchange's sessions of the day",
                )
            )
        verdict = Verdict(tuple(found), tuple(tags), self._learned_finding(learned), learned)
        if report:
            self.report(event.account, event.order_id, verdict)
        return verdict

    async def _with_model(
        self, keys_: list[str], args: list[str | int], event: OrderEvent, now_ms: int, tag: str, price: Decimal | None
    ) -> tuple[list[Any], Any, LearnedScore]:
        """The rules and the model in one script (and a market order's last price beside it): one round trip."""
        assert self._model is not None
        both_keys = [*keys_, f"{keys.ANOMALY}:{tag}:model", f"{keys.ANOMALY}:{tag}:recent"]
        value = price * event.quantity if price is not None else None
        both_args = [*args, *model_args(value, event.side, event.quantity)]
        last = None
        if price is None:  # the last traded price comes in the same round trip
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.evalsha(self._model.sha, len(both_keys), *both_keys, *both_args)
                    pipe.get(last_price_key(event.tradingsymbol))
                    reply, last = await pipe.execute()
            except NoScriptError:  # a restarted or new server: the plain call below loads the script
                reply = await self._model(keys=both_keys, args=both_args)
        else:
            reply = await self._model(keys=both_keys, args=both_args)
        return list(reply[:2]), last, parse_reply(reply[2:])

    def _learned_finding(self, learned: LearnedScore | None) -> Anomaly | None:
        if learned is None:
            return None
        model = self._settings.model
        score = learned.score
        if score < model.medium:
            return None
        severity = Severity.HIGH if score >= model.high else Severity.MEDIUM
        return Anomaly(AnomalyType.LEARNED_SCORE, severity, f"{learned.feature} {score:.1f}", f"{model.medium:g}")

    async def check_cancellation(self, account: str, at: datetime, order_id: str | None = None) -> Verdict:
        moment = _require_aware(at)
        with tracing.span("redis anomaly_cancellations", tracing.REDIS):
            count = await self._record_cancel(
                keys=[f"{keys.ANOMALY}:{{{account}}}:cancels"],
                args=[int(moment.timestamp() * 1000), WINDOW_MS, order_id or uuid.uuid4().hex],
            )
        found = self._over(
            AnomalyType.RAPID_CANCELLATIONS, Decimal(count), Decimal(self._settings.cancellations_per_minute)
        )
        verdict = Verdict(tuple(found))
        self.report(account, order_id, verdict)
        return verdict

    async def _order_and_price(self, keys_: list[str], args: list[str | int], symbol: str) -> list[Any]:
        try:
            return await self._record_and_read_price(keys_, args, symbol)
        except NoScriptError:  # a restarted or new server: load the script once, then again
            await self._redis.script_load(_RECORD_ORDER)
            return await self._record_and_read_price(keys_, args, symbol)

    async def _record_and_read_price(self, keys_: list[str], args: list[str | int], symbol: str) -> list[Any]:
        """The order's window update and the symbol's last price in one round trip (no MULTI: neither needs it)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.evalsha(self._record_order.sha, len(keys_), *keys_, *args)
            pipe.get(last_price_key(symbol))
            return list(await pipe.execute())

    # -- rules -------------------------------------------------------------------------
    @staticmethod
    def _over(kind: AnomalyType, observed: Decimal, threshold: Decimal) -> list[Anomaly]:
        if observed <= threshold:  # exactly at the threshold is not over it
            return []
        return [Anomaly(kind, severity_for(observed, threshold), _plain(observed), _plain(threshold))]

    async def _in_session(self, exchange: str, at: datetime) -> bool:
        window: tuple[time, time] | None
        if self._calendar is None:
            window = self._seed_rule(at)
        else:
            try:
                window = trading_window(await self._calendar.get_trading_day(exchange, at.date()))
            except Exception as exc:  # the calendar down must not stop orders: the seed's rule stands in
                log.warning("ANOMALY_CALENDAR_UNAVAILABLE %s: using 09:00-15:30 IST on weekdays (%s)", exchange, exc)
                window = self._seed_rule(at)
        if window is None:
            return False
        clock = at.time().replace(tzinfo=None)
        return window[0] <= clock <= window[1]

    @staticmethod
    def _seed_rule(at: datetime) -> tuple[time, time] | None:
        return None if at.weekday() >= 5 else (time(9, 0), time(15, 30))

    # -- reporting ---------------------------------------------------------------------
    def report(self, account: str, order_id: str | None, verdict: Verdict) -> None:
        """Count and log each finding of `verdict` (one `ORDER_ANOMALY_*` JSON line each), the learned one too."""
        found = [*verdict.anomalies, *([verdict.learned] if verdict.learned is not None else [])]
        for anomaly in found:
            self._counter.labels(anomaly.type.value, anomaly.severity.value).inc()
            line = json.dumps(
                {
                    "account": account,
                    "order_id": order_id,
                    "rule": anomaly.type.value,
                    "severity": anomaly.severity.value,
                    "observed": anomaly.observed,
                    "threshold": anomaly.threshold,
                },
                sort_keys=True,
            )
            if anomaly.severity in (Severity.HIGH, Severity.CRITICAL):
                log.critical("ORDER_ANOMALY_CRITICAL %s", line)
            elif anomaly.severity is Severity.MEDIUM:
                log.warning("ORDER_ANOMALY_WARNING %s", line)
            else:
                log.info("ORDER_ANOMALY_NOTICE %s", line)


def _plain(value: Decimal) -> str:
    """A figure without trailing zeros or an exponent: normalize() drops the zeros, "f" the exponent."""
    return format(value.normalize(), "f")
