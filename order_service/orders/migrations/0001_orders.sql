-- The order service's own state: orders, fills (as positions), idempotency records, the outbox.
-- Everything lives in the schema order_service; the service touches no other (the compliance
-- scanner checks the code against this).

CREATE SCHEMA IF NOT EXISTS order_service;

-- Order ids: the IST day (yymmdd) and this sequence's next value, nine digits. One sequence
-- for every replica, never reset by a restart.
CREATE SEQUENCE order_service.order_number MAXVALUE 999999999;

CREATE TABLE order_service.orders (
    order_id     text PRIMARY KEY CHECK (order_id ~ '^[0-9]{15}$'),
    account      text NOT NULL,
    status       text NOT NULL,
    strategy_id  bigint,
    body         jsonb NOT NULL,
    placed_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_account ON order_service.orders (account, order_id DESC);

-- What the account's fills add up to per instrument (one row, updated by each fill).
CREATE TABLE order_service.positions (
    account        text NOT NULL,
    tradingsymbol  text NOT NULL,
    exchange       text NOT NULL,
    product        text NOT NULL,
    bought         bigint NOT NULL DEFAULT 0,
    buy_value      numeric NOT NULL DEFAULT 0,
    sold           bigint NOT NULL DEFAULT 0,
    sell_value     numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (account, tradingsymbol, exchange, product)
);

-- Every fill, as it happened (positions are their sum).
CREATE TABLE order_service.fills (
    id         bigserial PRIMARY KEY,
    order_id   text NOT NULL REFERENCES order_service.orders (order_id),
    side       text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    quantity   bigint NOT NULL CHECK (quantity > 0),
    value      numeric NOT NULL,
    filled_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fills_by_order ON order_service.fills (order_id);

-- One row per (account, Idempotency-Key): a claim while the first request runs (it expires
-- at claimed_until, seconds away), then the answer, kept until expires_at.
CREATE TABLE order_service.idempotency_keys (
    account        text NOT NULL,
    key            text NOT NULL,
    fingerprint    text NOT NULL,
    state          text NOT NULL CHECK (state IN ('pending', 'done')),
    token          text NOT NULL,
    claimed_until  timestamptz NOT NULL,
    order_id       text REFERENCES order_service.orders (order_id),
    status         integer,
    body           jsonb,
    expires_at     timestamptz,
    PRIMARY KEY (account, key)
);
CREATE INDEX idempotency_expiry ON order_service.idempotency_keys (expires_at) WHERE state = 'done';

-- Follow-up writes to other services, committed with the order that caused them. The relay
-- claims due entries with FOR UPDATE SKIP LOCKED, the oldest pending one of each partition
-- only, so writes of one partition (one strategy's P&L) reach the owner in order.
CREATE TABLE order_service.outbox (
    id               bigserial PRIMARY KEY,
    service          text NOT NULL,
    operation        text NOT NULL,
    method           text NOT NULL,
    path             text NOT NULL,
    body             jsonb,
    idempotency_key  text NOT NULL UNIQUE,
    partition_key    text NOT NULL,
    order_id         text REFERENCES order_service.orders (order_id),
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
CREATE INDEX outbox_due ON order_service.outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_partition_head ON order_service.outbox (service, partition_key, id) WHERE state = 'pending';
