"""Client-side load balancing over a service's instances, with outlier detection.

Discovery may name several instances of a service (`ServiceEndpoint.instances`, each with a
weight). Each call goes to the instance with the fewest requests in flight; among equals,
smooth weighted round-robin decides (nginx's: over time each gets its weight's share, and
a heavy instance's turns are spread, not bunched). A retry avoids the instances the call
already failed on.

Outlier detection: an instance that fails `consecutive_failures` times in a row (no answer,
or a 5xx), or answers that slowly, is ejected. Slow is relative: at least `slow_seconds` and
at least `slow_ratio` times the other instances' typical answer (the median of their
moving averages), so a load that slows every instance ejects none. It is ejected
for `ejection_seconds`, doubled at each ejection since it last recovered, up to
`max_ejection_seconds`. When that time is up the instance is on probation: one live request
at a time probes it; an answer brings it back, a failure ejects it again. The last instance
not ejected is never ejected (someone must take the calls); when every instance is out, the
one whose ejection ends first is tried. A new set from discovery keeps each known
instance's state and drops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from order_service.settings import LoadBalancingSettings

log = logging.getLogger("order_service.clients.balancer")
RECOVERED_AFTER = 20  # successes in a row after which an instance's ejections are forgiven


@dataclass
class Instance:
    """One instance of a service and what the balancer knows of it."""

    url: str
    weight: int = 1
    outstanding: int = 0
    failures: int = 0  # in a row
    successes: int = 0  # in a row
    ejections: int = 0  # since it last recovered
    ejected_until: float = 0.0  # 0: in service
    probing: bool = False  # a probation request is in flight
    current: int = 0  # smooth weighted round-robin's running weight
    typical: float | None = None  # a moving average of its answers' seconds

    def state(self, now: float) -> str:
        """in_service, ejected or probation."""
        if self.ejected_until == 0.0:
            return "in_service"
        return "ejected" if now < self.ejected_until else "probation"


class Balancer:
    """Spreads one service's calls over its instances (see the module doc)."""

    def __init__(
        self,
        service: str,
        settings: LoadBalancingSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        metrics: BalancerMetrics | None = None,
    ) -> None:
        self.service = service
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self.instances: list[Instance] = []
        self._given: list[tuple[str, int]] = []

    def update(self, endpoints: Sequence[tuple[str, int]]) -> None:
        """The instances discovery names now, as (base URL, weight); known ones keep their state."""
        if endpoints == self._given:  # every call passes the set: the usual case costs one comparison
            return
        self._given = list(endpoints)
        known = {i.url: i for i in self.instances}
        fresh = []
        for url, weight in endpoints:
            instance = known.get(url) or Instance(url)
            instance.weight = max(1, weight)
            fresh.append(instance)
        if [i.url for i in fresh] != [i.url for i in self.instances]:
            log.info("LB_INSTANCES %s: %s", self.service, ", ".join(f"{i.url} (weight {i.weight})" for i in fresh))
        self.instances = fresh
        self._publish()

    def pick(self, avoid: Collection[str] = ()) -> Instance:
        """The instance for the next request (counted as in flight until `done`)."""
        if not self.instances:
            raise LookupError(f"{self.service}: no instances to call")
        now = self._clock()
        open_ = [i for i in self.instances if self._takes_calls(i, now)]
        if not open_:  # every instance is out: the one back soonest gets a try
            open_ = [min(self.instances, key=lambda i: i.ejected_until)]
        fresh = [i for i in open_ if i.url not in avoid] or open_
        fewest = min(i.outstanding for i in fresh)
        chosen = self._round_robin([i for i in fresh if i.outstanding == fewest])
        if chosen.state(now) == "probation":
            chosen.probing = True
        chosen.outstanding += 1
        if self._metrics is not None:
            self._metrics.requests.labels(self.service, chosen.url).inc()
        return chosen

    def _takes_calls(self, instance: Instance, now: float) -> bool:
        state = instance.state(now)
        return state == "in_service" or (state == "probation" and not instance.probing)

    @staticmethod
    def _round_robin(ties: list[Instance]) -> Instance:
        total = sum(i.weight for i in ties)
        for instance in ties:
            instance.current += instance.weight
        chosen = max(ties, key=lambda i: i.current)
        chosen.current -= total
        return chosen

    def done(self, instance: Instance, *, ok: bool, seconds: float) -> None:
        """The request to `instance` ended: an answer (`ok`: not a 5xx) after `seconds`, or a failure."""
        instance.outstanding = max(0, instance.outstanding - 1)
        slow = ok and self._slow(instance, seconds)
        if ok:
            instance.typical = seconds if instance.typical is None else 0.8 * instance.typical + 0.2 * seconds
        if ok and not slow:
            self._succeeded(instance)
        else:
            self._failed(instance, "slow" if ok else "failed")
        self._publish()

    def _slow(self, instance: Instance, seconds: float) -> bool:
        if seconds < self._settings.slow_seconds:
            return False
        now = self._clock()
        peers = sorted(
            i.typical
            for i in self.instances
            if i is not instance and i.typical is not None and i.state(now) == "in_service"
        )
        return not peers or seconds >= self._settings.slow_ratio * peers[len(peers) // 2]

    def _succeeded(self, instance: Instance) -> None:
        instance.failures = 0
        instance.successes += 1
        if instance.ejected_until:
            log.warning("LB_INSTANCE_RESTORED %s %s answered its probe", self.service, instance.url)
            instance.ejected_until, instance.probing = 0.0, False
        if instance.successes >= RECOVERED_AFTER:
            instance.ejections = 0

    def _failed(self, instance: Instance, how: str) -> None:
        instance.successes = 0
        instance.failures += 1
        if not self._settings.outlier_detection:
            return
        on_probation = instance.ejected_until != 0.0
        if on_probation or instance.failures >= self._settings.consecutive_failures:
            self._eject(instance, how)

    def _eject(self, instance: Instance, how: str) -> None:
        now = self._clock()
        others = [i for i in self.instances if i is not instance and i.state(now) == "in_service"]
        if not others and instance.ejected_until == 0.0:
            return  # the last one in service stays: someone must take the calls
        instance.ejections += 1
        seconds = min(
            self._settings.max_ejection_seconds, self._settings.ejection_seconds * 2 ** (instance.ejections - 1)
        )
        instance.ejected_until, instance.probing = now + seconds, False
        if self._metrics is not None:
            self._metrics.ejections.labels(self.service, instance.url).inc()
        log.warning(
            "LB_INSTANCE_EJECTED %s %s for %.1f s after %d %s answers in a row",
            self.service,
            instance.url,
            seconds,
            instance.failures,
            how,
        )

    def snapshot(self) -> list[dict[str, object]]:
        """Each instance's state, for health answers."""
        now = self._clock()
        return [
            {
                "url": i.url,
                "weight": i.weight,
                "state": i.state(now),
                "outstanding": i.outstanding,
                "consecutive_failures": i.failures,
                "ejections": i.ejections,
            }
            for i in self.instances
        ]

    def _publish(self) -> None:
        if self._metrics is None:
            return
        now = self._clock()
        for state in ("in_service", "ejected", "probation"):
            count = sum(1 for i in self.instances if i.state(now) == state)
            self._metrics.instances.labels(self.service, state).set(count)


class BalancerMetrics:
    """The balancers' Prometheus metrics, on the clients' registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "service_client_lb_requests_total",
            "Requests sent, by service and instance.",
            ["service", "instance"],
            registry=registry,
        )
        self.ejections = Counter(
            "service_client_lb_ejections_total",
            "Instances ejected by outlier detection.",
            ["service", "instance"],
            registry=registry,
        )
        self.instances = Gauge(
            "service_client_lb_instances",
            "Instances by state (in_service, ejected, probation).",
            ["service", "state"],
            registry=registry,
        )


class BalancerBoard:
    """One balancer per service, shared by the clients of a hub."""

    def __init__(
        self,
        settings: LoadBalancingSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._metrics = BalancerMetrics(registry) if registry is not None else None
        self._balancers: dict[str, Balancer] = {}

    def get(self, service: str) -> Balancer:
        """The balancer of `service` (made on first use)."""
        found = self._balancers.get(service)
        if found is None:
            found = Balancer(service, self._settings, clock=self._clock, metrics=self._metrics)
            self._balancers[service] = found
        return found

    def snapshot(self) -> dict[str, list[dict[str, object]]]:
        """Every balancer's instances."""
        return {name: b.snapshot() for name, b in sorted(self._balancers.items())}


__all__ = ["Balancer", "BalancerBoard", "BalancerMetrics", "Instance"]
