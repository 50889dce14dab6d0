-- Tracing (order_service.tracing): an outbox entry keeps the W3C traceparent of the request
-- that wrote it, so its delivery, later and from any replica, joins that request's trace.

ALTER TABLE order_service.outbox ADD COLUMN traceparent text;
