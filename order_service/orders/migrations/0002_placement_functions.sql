-- Placement in one round trip each: a key's claim, and an order's commit with its key's answer.
-- The same statements the store ran one by one (0001's tables), moved into the database so a
-- placement costs two round trips instead of six.

-- Take the key for a new request, or say why not. claimed: the key is now this request's;
-- otherwise the key's row as it is (a different fingerprint, a pending claim, an answer).
CREATE FUNCTION order_service.claim_key(
    p_account text, p_key text, p_fingerprint text, p_token text, p_claim_seconds float8)
RETURNS TABLE (claimed boolean, state text, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_service.idempotency_keys AS k (account, key, fingerprint, state, token, claimed_until)
    VALUES (p_account, p_key, p_fingerprint, 'pending', p_token,
            clock_timestamp() + make_interval(secs => p_claim_seconds))
    ON CONFLICT (account, key) DO UPDATE
        SET fingerprint = excluded.fingerprint, state = 'pending', token = excluded.token,
            claimed_until = excluded.claimed_until, order_id = NULL, status = NULL, body = NULL,
            expires_at = NULL
        WHERE (k.state = 'pending' AND k.claimed_until < clock_timestamp())
           OR (k.state = 'done' AND k.expires_at < clock_timestamp());
    IF FOUND THEN
        RETURN QUERY SELECT true, 'pending'::text, p_fingerprint, NULL::integer, NULL::jsonb;
        RETURN;
    END IF;
    RETURN QUERY SELECT false, k.state, k.fingerprint, k.status, k.body
        FROM order_service.idempotency_keys k WHERE k.account = p_account AND k.key = p_key;
END $$;

-- Commit an order (its id: p_prefix and the sequence's next value) and, with a key, the key's
-- answer. An earlier request under the same key that committed first wins: its answer comes
-- back (replayed) and nothing of this one is kept. The key's row is locked until the end of
-- the caller's transaction, so two requests under one key commit one after the other.
CREATE FUNCTION order_service.place_order(
    p_prefix text, p_account text, p_status text, p_strategy bigint, p_body jsonb,
    p_key text, p_fingerprint text, p_token text, p_keep_seconds float8)
RETURNS TABLE (replayed boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    k record;
    new_id text;
    stored jsonb;
BEGIN
    IF p_key IS NOT NULL THEN
        INSERT INTO order_service.idempotency_keys AS ik (account, key, fingerprint, state, token, claimed_until)
        VALUES (p_account, p_key, p_fingerprint, 'pending', p_token, clock_timestamp())
        ON CONFLICT (account, key) DO UPDATE SET account = ik.account
        RETURNING ik.state, ik.fingerprint, ik.status, ik.body INTO k;
        IF k.state = 'done' THEN
            RETURN QUERY SELECT true, k.fingerprint, k.status, k.body;
            RETURN;
        END IF;
    END IF;
    new_id := p_prefix || lpad(nextval('order_service.order_number')::text, 9, '0');
    stored := jsonb_set(p_body, '{order_id}', to_jsonb(new_id));
    INSERT INTO order_service.orders (order_id, account, status, strategy_id, body)
    VALUES (new_id, p_account, p_status, p_strategy, stored);
    IF p_key IS NOT NULL THEN
        UPDATE order_service.idempotency_keys
        SET fingerprint = p_fingerprint, state = 'done', order_id = new_id, status = 201, body = stored,
            expires_at = clock_timestamp() + make_interval(secs => p_keep_seconds)
        WHERE account = p_account AND key = p_key;
    END IF;
    RETURN QUERY SELECT false, p_fingerprint, 201, stored;
END $$;
