-- Automatic suspension (order_service.orders.suspensions): each account's CRITICAL anomalies,
-- counted over the policy's window, and its suspension (one row per account: the latest).
-- Kept with the orders, so replicas share them and a Redis restart loses neither.

CREATE TABLE order_service.critical_anomalies (
    id        bigserial PRIMARY KEY,
    account   text NOT NULL,
    order_id  text,
    at        timestamptz NOT NULL
);
CREATE INDEX critical_anomalies_by_account ON order_service.critical_anomalies (account, at);

CREATE TABLE order_service.suspensions (
    account         text PRIMARY KEY,
    since           timestamptz NOT NULL,
    until           timestamptz,  -- NULL: until lifted
    critical_count  integer NOT NULL CHECK (critical_count > 0),
    lifted_at       timestamptz,
    lifted_by       text
);
