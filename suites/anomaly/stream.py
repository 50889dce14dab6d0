"""A generated, labelled order stream: ordinary accounts with daily rhythms, and injected abuse.

Ordinary accounts (every account, every day): a daily count drawn around the account's own
mean, placed in a U-shaped day (most orders near the open and the close, fewer at midday),
on the account's few favourite symbols (now and then another), sizes lognormal around the
account's own typical value, and intraday round trips (a buy squared off by a sell of the
same quantity within the hour) as real intraday traders make them.

Abuse, on the last day, each episode on an account with an ordinary history, each designed
to stay under the fixed rules (30 orders a minute, 15 symbols a day, 50,000 shares or 10 lakh
INR an order):
- `ramp`: 40 orders over two hours, each 6 % larger in value than the one before (ending
  about 10x the account's typical size, under 10 lakh);
- `burst`: 27 orders a minute for four minutes;
- `sweep`: 9 symbols the account never trades, two orders each within half an hour
  (at most 15 that day, with its favourites);
- `wash`: 8 round trips in 20 minutes (a buy, then a sell of the same quantity a minute later).
Every order of an episode is labelled with its kind; all others are `ordinary`.
Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from order_service.services.order_anomaly_detector import IST

SYMBOLS = [f"SYM{n:02d}" for n in range(60)]
PRICES = {s: Decimal(100 + (n * 37) % 2900) for n, s in enumerate(SYMBOLS)}
KINDS = ("ramp", "burst", "sweep", "wash")
OPEN, CLOSE = time(9, 15), time(15, 25)


@dataclass(frozen=True)
class Order:
    """One order of the stream and its label."""

    at: datetime
    account: str
    symbol: str
    side: str
    quantity: int
    price: Decimal
    label: str  # ordinary, or the abuse kind
    episode: str | None = None  # which abuse episode it belongs to


@dataclass(frozen=True)
class Profile:
    """An account's habits."""

    account: str
    per_day: float
    favourites: tuple[str, ...]
    typical_value: float
    round_trip_share: float


def _profile(rng: random.Random, n: int) -> Profile:
    return Profile(
        account=f"ZX{n:04d}",
        per_day=rng.uniform(6, 40),
        favourites=tuple(rng.sample(SYMBOLS[:40], rng.randint(2, 5))),
        typical_value=math.exp(rng.uniform(math.log(10_000), math.log(80_000))),
        round_trip_share=rng.uniform(0.0, 0.2),
    )


def _moment(rng: random.Random, day: date) -> datetime:
    """A time of the session, U-shaped: a third near the open, a third near the close."""
    part = rng.random()
    if part < 0.35:
        start, minutes = time(9, 15), 60
    elif part < 0.7:
        start, minutes = time(14, 15), 70
    else:
        start, minutes = time(10, 15), 240
    return datetime.combine(day, start, IST) + timedelta(seconds=rng.uniform(0, minutes * 60))


def _quantity(value: float, symbol: str) -> int:
    return max(1, round(value / float(PRICES[symbol])))


def ordinary_day(rng: random.Random, p: Profile, day: date) -> list[Order]:
    """One ordinary day of an account."""
    orders = []
    count = max(1, round(rng.gauss(p.per_day, p.per_day * 0.25)))
    for _ in range(count):
        at = _moment(rng, day)
        symbol = rng.choice(p.favourites) if rng.random() < 0.9 else rng.choice(SYMBOLS[:40])
        quantity = _quantity(p.typical_value * math.exp(rng.gauss(0, 0.45)), symbol)
        side = rng.choice(("BUY", "SELL"))
        orders.append(Order(at, p.account, symbol, side, quantity, PRICES[symbol], "ordinary"))
        if rng.random() < p.round_trip_share:  # squared off later the same day
            later = min(at + timedelta(minutes=rng.uniform(10, 60)), datetime.combine(day, CLOSE, IST))
            other = "SELL" if side == "BUY" else "BUY"
            orders.append(Order(later, p.account, symbol, other, quantity, PRICES[symbol], "ordinary"))
    return orders


def abuse(rng: random.Random, p: Profile, day: date, kind: str) -> list[Order]:
    """One abuse episode of `kind` on `day`."""
    start = datetime.combine(day, time(10, 30), IST) + timedelta(minutes=rng.uniform(0, 180))
    episode = f"{p.account}:{kind}"
    made: list[Order] = []

    def add(at: datetime, symbol: str, side: str, quantity: int) -> None:
        made.append(Order(at, p.account, symbol, side, quantity, PRICES[symbol], kind, episode))

    if kind == "ramp":
        symbol = p.favourites[0]
        for n in range(40):
            add(start + timedelta(minutes=3 * n), symbol, "BUY", _quantity(p.typical_value * 1.06**n, symbol))
    elif kind == "burst":
        for n in range(27 * 4):
            add(
                start + timedelta(seconds=n * 60 / 27 + 0.1),
                rng.choice(p.favourites),
                rng.choice(("BUY", "SELL")),
                _quantity(p.typical_value * math.exp(rng.gauss(0, 0.45)), p.favourites[0]),
            )
    elif kind == "sweep":
        novel = [s for s in SYMBOLS[40:] if s not in p.favourites][:9]
        for n, symbol in enumerate(novel * 2):
            add(start + timedelta(seconds=n * 80), symbol, "BUY", _quantity(p.typical_value, symbol))
    elif kind == "wash":
        symbol = p.favourites[0]
        quantity = _quantity(p.typical_value, symbol)
        for n in range(8):
            at = start + timedelta(seconds=150 * n)
            add(at, symbol, "BUY", quantity)
            add(at + timedelta(seconds=60), symbol, "SELL", quantity)
    else:
        raise ValueError(f"unknown abuse kind {kind!r}; one of {KINDS}")
    return made


def generate(seed: int, accounts: int = 120, days: int = 3, abusive: int = 24) -> list[Order]:
    """The whole stream, in time order: `accounts` ordinary accounts over `days` weekdays; the last
    day, `abusive` of them (spread over the kinds) also run one abuse episode each."""
    rng = random.Random(seed)
    profiles = [_profile(rng, n) for n in range(accounts)]
    first = date(2026, 11, 23)  # a Monday: the days below are weekdays
    orders: list[Order] = []
    for d in range(days):
        day = first + timedelta(days=d)
        for p in profiles:
            orders += ordinary_day(rng, p, day)
    last = first + timedelta(days=days - 1)
    for n, p in enumerate(rng.sample(profiles, abusive)):
        orders += abuse(rng, p, last, KINDS[n % len(KINDS)])
    return sorted(orders, key=lambda o: (o.at, o.account))


__all__ = ["KINDS", "Order", "abuse", "generate", "ordinary_day"]
