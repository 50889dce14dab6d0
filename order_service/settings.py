"""Order-service settings, read from the environment once, at an entry point.

Every address and threshold the order service uses lives here (env-overridable with the
`ORDER_SERVICE_` prefix, nested fields with `__`), never as a literal in client code:
`ORDER_SERVICE_CONFIG_SERVICE_URL=http://config:8100`,
`ORDER_SERVICE_BREAKER__FAILURE_THRESHOLD=3`,
`ORDER_SERVICE_FALLBACK_URLS='{"strategy-service": "http://algo-engine:8001"}'`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from order_service.keys import PATTERN_OF_PREFIX, REPLAY


class HttpSettings(BaseModel):
    connect_timeout: Annotated[float, Field(gt=0)] = 1.0
    read_timeout: Annotated[float, Field(gt=0)] = 5.0
    write_timeout: Annotated[float, Field(gt=0)] = 5.0
    pool_timeout: Annotated[float, Field(gt=0)] = 1.0
    max_connections: Annotated[int, Field(ge=1)] = 100
    max_keepalive_connections: Annotated[int, Field(ge=0)] = 20
    tls_ca_file: Annotated[Path | None, Field(description="Trust HTTPS servers signed by this CA (PEM).")] = None
    tls_certfile: Annotated[Path | None, Field(description="The client certificate to present (mutual TLS).")] = None
    tls_keyfile: Annotated[Path | None, Field(description="Its key (PEM).")] = None


class ServerSettings(BaseModel):
    """What the order service's own HTTP server accepts (the clients' settings are `HttpSettings`)."""

    max_body_bytes: Annotated[int, Field(ge=1024, description="Largest request body; more is 413.")] = 1_048_576
    max_header_bytes: Annotated[int, Field(ge=1024, description="Request target and headers; more is 431.")] = 16_384
    header_timeout: Annotated[
        float, Field(gt=0, description="Seconds a connection may take to send a request's headers.")
    ] = 10.0
    keep_alive_timeout: Annotated[float, Field(gt=0, description="Seconds an idle connection is kept.")] = 5.0
    tls_certfile: Annotated[Path | None, Field(description="Serve HTTPS with this certificate (PEM).")] = None
    tls_keyfile: Annotated[Path | None, Field(description="The certificate's key (PEM).")] = None
    tls_client_ca: Annotated[
        Path | None, Field(description="Require client certificates from this CA (mutual TLS).")
    ] = None
    tls_identity: Annotated[
        Literal["uri", "dns"], Field(description="Where a client certificate names its service.")
    ] = "uri"
    tls_uri_prefix: str = "spiffe://trading/"
    tls_dns_suffix: Annotated[str, Field(description="With tls_identity=dns: <identity>.<suffix>.")] = ""
    tls_reload_seconds: Annotated[float, Field(gt=0, description="How often certificate files are checked.")] = 2.0


class RetrySettings(BaseModel):
    max_attempts: Annotated[int, Field(ge=1, le=10, description="Tries in all, the first included.")] = 3
    backoff_base: Annotated[float, Field(ge=0, description="Seconds; doubled each retry, with full jitter.")] = 0.05
    backoff_max: Annotated[float, Field(ge=0)] = 1.0
    retry_after_cap: Annotated[float, Field(ge=0, description="The longest Retry-After honoured, in seconds.")] = 5.0


class BreakerSettings(BaseModel):
    failure_threshold: Annotated[int, Field(ge=1, description="Consecutive failures that open the breaker.")] = 5
    reset_timeout: Annotated[float, Field(gt=0, description="Seconds open before one trial call.")] = 30.0
    half_open_max_calls: Annotated[int, Field(ge=1)] = 1


AUTHORIZED_SERVICES: dict[str, list[str]] = {
    "algo_engine": ["place_order", "modify_order", "cancel_order"],
    "user_interface": ["place_order", "get_orders", "cancel_order"],
    "risk_manager": ["cancel_order", "get_positions"],
    "strategy_service": ["place_order", "modify_order"],
}


class SecuritySettings(BaseModel):
    credentials_file: Annotated[Path | None, Field(description="Service API keys and signing secrets (JSON).")] = None
    timestamp_tolerance: Annotated[int, Field(ge=1, le=3600, description="Seconds either way, inclusive.")] = 300
    accept_v1: Annotated[bool, Field(description="Accept request signing version 1 beside version 2.")] = True
    authorized_services: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in AUTHORIZED_SERVICES.items()}
    )
    jwt_secret: Annotated[str | None, Field(description="HS256 key of user tokens.")] = None
    jwt_public_key: Annotated[str | None, Field(description="PEM key for RS256/ES256 user tokens.")] = None
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_audience: str = "order-service"
    jwt_issuer: str | None = None


class RedisMonitorSettings(BaseModel):
    prefixes: dict[str, str] = Field(
        default_factory=lambda: dict(PATTERN_OF_PREFIX),
        description="Key prefix -> usage pattern; the longest matching prefix wins, others count as 'other'.",
    )
    memory_warning: Annotated[float, Field(gt=0, le=1)] = 0.80
    memory_critical: Annotated[float, Field(gt=0, le=1)] = 0.95
    pool_warning: Annotated[float, Field(gt=0, le=1)] = 0.75
    latency_warning_ms: Annotated[float, Field(gt=0)] = 100.0
    ping_samples: Annotated[int, Field(ge=1, le=20)] = 3
    scan_interval: Annotated[float, Field(gt=0, description="Seconds between background usage scans.")] = 60.0
    scan_budget_ms: Annotated[float, Field(gt=0, le=50, description="Server time one scan step may take.")] = 1.0
    mode: Literal["exact", "sampled", "auto"] = "auto"
    exact_up_to_keys: Annotated[int, Field(ge=0, description="auto: exact below this many keys.")] = 2_000_000
    sample_size: Annotated[int, Field(ge=100, le=1_000_000)] = 40_000
    expiring_patterns: list[str] = Field(
        default_factory=lambda: ["idempotency", "rate_limiting", "caching"],
        description="Patterns whose keys should all expire: a key without a TTL there is flagged as a leak.",
    )
    ttl_exempt: list[str] = Field(
        default_factory=lambda: [f"{REPLAY}:epoch"],
        description="Keys that live for ever on purpose (the replay store's epoch).",
    )
    largest_keys: Annotated[int, Field(ge=1, le=100, description="Largest keys reported, per pattern and in all.")] = 10
    history_size: Annotated[int, Field(ge=2, le=10_000, description="Scans kept for growth rates.")] = 60


class AnomalyModelSettings(BaseModel):
    """The learned per-account scores beside the rules (`order_service.services.anomaly_model`)."""

    enabled: bool = False
    memory_seconds: Annotated[
        float, Field(gt=0, description="Quiet time after which a new order moves the baseline by 63 %.")
    ] = 86_400.0
    warmup: Annotated[int, Field(ge=1, description="Orders an account places before it is scored.")] = 30
    medium: Annotated[float, Field(gt=0, description="A score this high is a MEDIUM anomaly.")] = 5.0
    high: Annotated[float, Field(gt=0, description="A score this high is a HIGH one.")] = 8.0
    floor_size: Annotated[float, Field(gt=0, description="Least deviation of log(value).")] = 0.3
    floor_rate: Annotated[float, Field(gt=0, description="Least deviation of log(1 + orders a minute).")] = 0.35
    floor_symbols: Annotated[float, Field(gt=0, description="Least deviation of the symbols today.")] = 1.0
    floor_round_trips: Annotated[float, Field(gt=0, description="Least deviation of round trips in 10 min.")] = 0.5
    state_ttl_seconds: Annotated[float, Field(gt=0, description="An idle account's state is forgotten after.")] = (
        30 * 86_400
    )


class AnomalySettings(BaseModel):
    orders_per_minute: Annotated[int, Field(ge=1)] = 30
    max_quantity: Annotated[int, Field(ge=1)] = 50_000
    max_value: Annotated[Decimal, Field(gt=0, description="INR; 10 lakh.")] = Decimal(1_000_000)
    symbols_per_day: Annotated[int, Field(ge=1)] = 15
    cancellations_per_minute: Annotated[int, Field(ge=1)] = 20
    policy: Literal["log", "reject_critical"] = "log"
    model: AnomalyModelSettings = AnomalyModelSettings()


class ServiceTokenSettings(BaseModel):
    """Service tokens on the calls to the owners (order_service.clients.tokens); off unless `enabled`."""

    enabled: bool = False
    token_url: Annotated[
        str | None, Field(description="The token endpoint; None: auth-service's /oauth/token, discovered.")
    ] = None
    client_id: str = "order-service"
    client_secret: Annotated[str | None, Field(description="The client's secret (never logged).")] = None
    scope: str | None = "owners"
    refresh_margin_seconds: Annotated[float, Field(ge=0, description="Refresh this long before expiry.")] = 30.0


class SuspensionSettings(BaseModel):
    """Automatic suspension (order_service.orders.suspensions); off while `critical_limit` is 0."""

    critical_limit: Annotated[
        int, Field(ge=0, description="CRITICAL anomalies within the window that suspend an account; 0: off.")
    ] = 0
    window_seconds: Annotated[float, Field(gt=0, description="How far back anomalies count.")] = 600.0
    duration_seconds: Annotated[
        float | None, Field(gt=0, description="How long a suspension lasts; None: until lifted.")
    ] = 3600.0
    managed_by: list[str] = Field(
        default_factory=lambda: ["risk_manager"], description="Service identities that may read and lift suspensions."
    )


class LoadBalancingSettings(BaseModel):
    """Spreading calls over a service's instances, and ejecting outliers (`order_service.clients.balancer`)."""

    outlier_detection: bool = True
    consecutive_failures: Annotated[
        int, Field(ge=1, description="Failures in a row (no answer, a 5xx, or slow) that eject an instance.")
    ] = 3
    slow_seconds: Annotated[
        float, Field(gt=0, description="An answer this slow counts as a failure, if also slow_ratio x its peers'.")
    ] = 1.0
    slow_ratio: Annotated[
        float, Field(ge=1, description="How much slower than the other instances' typical answer is slow.")
    ] = 3.0
    ejection_seconds: Annotated[float, Field(gt=0, description="The first ejection; doubled at each one.")] = 5.0
    max_ejection_seconds: Annotated[float, Field(gt=0)] = 60.0


class TracingSettings(BaseModel):
    """OpenTelemetry tracing (`order_service.tracing`); off unless an exporter is named."""

    exporter: Annotated[
        Literal["none", "otlp", "console"], Field(description="none: off (no cost); otlp: OTLP over HTTP.")
    ] = "none"
    otlp_endpoint: Annotated[
        str, Field(pattern=r"^https?://\S+$", description="The collector's traces URL (OTLP over HTTP).")
    ] = "http://127.0.0.1:4318/v1/traces"
    service_name: str = "order-service"
    sample_ratio: Annotated[float, Field(ge=0, le=1, description="Share of new traces kept.")] = 1.0
    export_delay_ms: Annotated[int, Field(ge=1, description="Longest a finished span waits for its batch.")] = 1000
    queue_size: Annotated[
        int, Field(ge=512, description="Finished spans waiting for export; past it, new ones are dropped.")
    ] = 65_536
    export_timeout: Annotated[float, Field(gt=0, description="Seconds one export may take.")] = 5.0


class RateLimitSettings(BaseModel):
    per_account: Annotated[int, Field(ge=1, description="Order requests per account per window.")] = 10
    per_service: Annotated[int, Field(ge=1, description="Order requests per calling service per window.")] = 200
    window_seconds: Annotated[int, Field(ge=1)] = 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDER_SERVICE_", env_nested_delimiter="__", env_parse_none_str="null", extra="ignore"
    )

    config_service_url: str = "http://127.0.0.1:8100"
    discovery_ttl_max: Annotated[float, Field(ge=0, description="Longest a discovered address is cached.")] = 300.0
    fallback_urls: dict[str, str] = Field(
        default_factory=lambda: {
            "strategy-service": "http://127.0.0.1:8101",
            "account-service": "http://127.0.0.1:8102",
            "analytics-service": "http://127.0.0.1:8103",
            "calendar-service": "http://127.0.0.1:8104",
            "auth-service": "http://127.0.0.1:8106",
        },
        description="Where a service is assumed to be when discovery fails.",
    )
    http: HttpSettings = HttpSettings()
    server: ServerSettings = ServerSettings()
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()
    load_balancing: LoadBalancingSettings = LoadBalancingSettings()
    security: SecuritySettings = SecuritySettings()
    redis_monitor: RedisMonitorSettings = RedisMonitorSettings()
    anomaly: AnomalySettings = AnomalySettings()
    suspension: SuspensionSettings = SuspensionSettings()
    service_tokens: ServiceTokenSettings = ServiceTokenSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    tracing: TracingSettings = TracingSettings()
    idempotency_ttl: Annotated[int, Field(ge=60, description="Seconds an Idempotency-Key answer is kept.")] = 86_400
    idempotency_claim_seconds: Annotated[
        float,
        Field(gt=0, le=300, description="Seconds a key stays claimed by a request that never finished."),
    ] = 10.0
    database_url: Annotated[
        str | None,
        Field(description="PostgreSQL of the order service's own schema; None keeps orders in memory (not durable)."),
    ] = None
    database_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    database_connect_timeout: Annotated[
        float, Field(gt=0, description="Seconds `serve` waits at start for the database before it gives up.")
    ] = 30.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    log_file: Annotated[Path | None, Field(description="Where `serve` writes its log lines; None: stdout.")] = None
    stale_max_age: Annotated[float, Field(ge=0, description="Oldest last-known value a read may serve, seconds.")] = (
        300.0
    )
    redis_url: Annotated[str | None, Field(description="Redis for the outbox; None keeps it in memory.")] = None
    outbox_relay_interval: Annotated[float, Field(gt=0)] = 1.0
    outbox_retry_max_seconds: Annotated[
        float,
        Field(gt=0, le=3600, description="Longest wait between two tries of one outbox entry (the backoff's cap)."),
    ] = 60.0
    test_clock_start: Annotated[
        datetime | None,
        Field(
            description="Tests only: the exchange clock (order times, the anomaly rules) starts at this instant "
            "and runs at real speed, so a suite's result does not depend on the day it runs. Signatures and "
            "rate limits keep the wall clock."
        ),
    ] = None
