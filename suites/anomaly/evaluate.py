"""The detector over a labelled stream against a real Redis: precision, recall and F1 of the rules, the model, both.

Each account's orders are checked in time order (accounts side by side, 64 at a time);
an order counts as flagged by the rules when any of the five rules finds something, by the
model when its learned score is an anomaly, by both when either does. Order-level figures
take the abuse orders as positives; an episode is found when any of its orders is flagged;
the false-positive rate is the share of ordinary orders flagged.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from order_service.services.order_anomaly_detector import OrderAnomalyDetector, OrderEvent
from order_service.settings import AnomalyModelSettings, AnomalySettings
from suites.anomaly.stream import KINDS, Order

DETECTORS = ("rules", "model", "both")


@dataclass
class Tally:
    """One detector's counts."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    ordinary: int = 0
    episodes_found: set[str] = field(default_factory=set)
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positive_rate(self) -> float:
        return self.fp / self.ordinary if self.ordinary else 0.0


@dataclass
class Evaluation:
    """Every detector's tally over one stream, and the stream's make-up."""

    tallies: dict[str, Tally]
    orders: int
    abuse_by_kind: dict[str, int]
    episodes: int
    seconds: float


def event(order: Order) -> OrderEvent:
    return OrderEvent(
        account=order.account,
        exchange="NSE",
        tradingsymbol=order.symbol,
        quantity=order.quantity,
        price=order.price,
        at=order.at,
        side=order.side,
    )


async def evaluate(
    url: str, orders: Sequence[Order], model: AnomalyModelSettings | None = None, in_flight: int = 64
) -> Evaluation:
    """Run the rules and the model over `orders` on the Redis at `url` (its database is used as it is)."""
    settings = AnomalySettings(model=model or AnomalyModelSettings(enabled=True))
    client = aioredis.Redis.from_url(url, max_connections=in_flight)
    detector = OrderAnomalyDetector(client, settings)
    by_account: dict[str, list[Order]] = defaultdict(list)
    for order in orders:
        by_account[order.account].append(order)
    verdicts: dict[int, tuple[bool, bool]] = {}
    gate = asyncio.Semaphore(in_flight)

    async def account_run(sequence: list[Order]) -> None:
        async with gate:
            for order in sequence:
                verdict = await detector.check_order(event(order), report=False)
                verdicts[id(order)] = (bool(verdict.anomalies), verdict.learned is not None)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(account_run(seq) for seq in by_account.values()))
    finally:
        await client.aclose()
    seconds = time.perf_counter() - began
    tallies = {name: Tally() for name in DETECTORS}
    abuse_by_kind: dict[str, int] = defaultdict(int)
    episodes = {o.episode for o in orders if o.episode}
    for order in orders:
        rules, learned = verdicts[id(order)]
        flags = {"rules": rules, "model": learned, "both": rules or learned}
        abusive = order.label != "ordinary"
        if abusive:
            abuse_by_kind[order.label] += 1
        for name, flagged in flags.items():
            tally = tallies[name]
            if abusive and flagged:
                tally.tp += 1
                tally.by_kind[order.label] += 1
                tally.episodes_found.add(str(order.episode))
            elif abusive:
                tally.fn += 1
            else:
                tally.ordinary += 1
                tally.fp += flagged
    return Evaluation(tallies, len(orders), dict(abuse_by_kind), len(episodes), seconds)


def table(result: Evaluation) -> list[str]:
    """The evaluation as the README shows it."""
    lines = [
        "detector  precision  recall     F1  false positives (ordinary)  episodes found  "
        + "  ".join(f"{k:>5}" for k in KINDS),
    ]
    for name in DETECTORS:
        t = result.tallies[name]
        kinds = "  ".join(f"{t.by_kind[k] / max(result.abuse_by_kind.get(k, 0), 1):>5.0%}" for k in KINDS)
        lines.append(
            f"{name:<8}  {t.precision:>9.3f}  {t.recall:>6.3f}  {t.f1:>5.3f}  "
            f"{t.fp:>6} of {t.ordinary:,} ({t.false_positive_rate:.2%})  "
            f"{len(t.episodes_found):>6} of {result.episodes:<5}  {kinds}"
        )
    return lines


__all__ = ["DETECTORS", "Evaluation", "Tally", "evaluate", "table"]
