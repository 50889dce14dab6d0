-- Group commit: the placements that arrive while the last batch commits go in one call, one
-- transaction. Each element is one place_order call's arguments; the rows come back in order.
CREATE FUNCTION order_service.place_orders(p_orders jsonb)
RETURNS TABLE (replayed boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
BEGIN
    FOR o IN SELECT value FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS e(value, n) ORDER BY n LOOP
        RETURN QUERY SELECT * FROM order_service.place_order(
            o->>'prefix', o->>'account', o->>'status', (o->>'strategy')::bigint, o->'body',
            o->>'key', o->>'fingerprint', o->>'token', (o->>'keep')::float8);
    END LOOP;
END $$;

-- The claims of a batch the same way: one row per element, in order; `claimed` false with a
-- null state when the key's row went between the claim's two statements (the caller asks again).
CREATE FUNCTION order_service.claim_keys(p_claims jsonb)
RETURNS TABLE (claimed boolean, state text, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    c jsonb;
    r record;
BEGIN
    FOR c IN SELECT value FROM jsonb_array_elements(p_claims) WITH ORDINALITY AS e(value, n) ORDER BY n LOOP
        SELECT * INTO r FROM order_service.claim_key(
            c->>'account', c->>'key', c->>'fingerprint', c->>'token', (c->>'seconds')::float8);
        IF FOUND THEN
            claimed := r.claimed; state := r.state; fingerprint := r.fingerprint; status := r.status; body := r.body;
        ELSE
            claimed := false; state := NULL; fingerprint := NULL; status := NULL; body := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
