-- 0004 — what flows out of a request: in-app notifications, the transactional outbox to SQS,
-- and idempotency keys.

CREATE TABLE notifications (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What happened, e.g. 'transaction.executed', 'kyc.approved'.
    kind                text        NOT NULL,
    title               text        NOT NULL,
    body                text        NOT NULL,
    data                jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- SET NULL: a notification is a convenience copy, never the record of the payment.
    transaction_id      uuid        REFERENCES transactions (id) ON DELETE SET NULL,
    read_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT notifications_kind_shape CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
    CONSTRAINT notifications_title_length CHECK (length(title) BETWEEN 1 AND 200),
    CONSTRAINT notifications_body_length CHECK (length(body) <= 2000),
    CONSTRAINT notifications_data_is_object CHECK (jsonb_typeof(data) = 'object')
);

-- GET /v1/me/notifications, newest first, cursor (created_at, id) friendly.
CREATE INDEX notifications_user_history_idx ON notifications (user_id, created_at DESC, id DESC);
-- Unread badge.
CREATE INDEX notifications_user_unread_idx ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_transaction_idx ON notifications (transaction_id) WHERE transaction_id IS NOT NULL;
-- Purge by age.
CREATE INDEX notifications_created_at_idx ON notifications (created_at);

COMMENT ON TABLE notifications IS
    'In-app notifications shown to the user. Not a record of anything (transactions and audit_log are). '
    'Retention: deleted 12 months after creation, and on erasure.';


CREATE TABLE outbox (
    -- Insertion order is the relay order.
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stable id of the message, sent along to SQS so consumers can de-duplicate a re-publish.
    message_id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    -- The logical queue, e.g. 'payments', 'aml', 'notifications'.
    topic               text        NOT NULL,
    payload             jsonb       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- Not before: the relay's back-off after a failed publish.
    available_at        timestamptz NOT NULL DEFAULT now(),
    published_at        timestamptz,
    attempts            integer     NOT NULL DEFAULT 0,
    last_error          text,

    CONSTRAINT outbox_message_id_key UNIQUE (message_id),
    CONSTRAINT outbox_topic_shape CHECK (topic ~ '^[a-z][a-z0-9_.-]{0,79}$'),
    CONSTRAINT outbox_attempts_not_negative CHECK (attempts >= 0),
    CONSTRAINT outbox_payload_size CHECK (octet_length(payload::text) <= 262144),
    CONSTRAINT outbox_last_error_length CHECK (last_error IS NULL OR length(last_error) <= 2000)
);

-- The relay: unpublished rows that are due, in order.
CREATE INDEX outbox_unpublished_idx ON outbox (available_at, id) WHERE published_at IS NULL;
-- Purge of published rows.
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

COMMENT ON TABLE outbox IS
    'Transactional outbox: a row is written in the same SQL transaction as the state change it announces '
    'and relayed to SQS (at-least-once; consumers de-duplicate on message_id). Payloads carry ids, never '
    'personal data. Retention: published rows deleted after 7 days; an unpublished row is never deleted '
    '(an old one raises an alarm).';


CREATE TABLE idempotency_keys (
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The client's Idempotency-Key header.
    key                 text        NOT NULL,
    -- SHA-256 of the request body: same key with another body is 422 idempotency_key_reused.
    request_fingerprint bytea       NOT NULL,
    -- in_flight: a request holds the key until locked_until (a crashed Lambda's lease runs out);
    -- completed: the stored response is replayed for a repeat of the same request.
    state               text        NOT NULL DEFAULT 'in_flight',
    locked_until        timestamptz,
    response_status     smallint,
    response_body       jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    expires_at          timestamptz NOT NULL DEFAULT now() + interval '24 hours',

    PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_fingerprint_is_sha256 CHECK (octet_length(request_fingerprint) = 32),
    CONSTRAINT idempotency_keys_state_known CHECK (state IN ('in_flight', 'completed')),
    CONSTRAINT idempotency_keys_in_flight_is_locked CHECK (
        state <> 'in_flight' OR (locked_until IS NOT NULL AND response_status IS NULL)),
    CONSTRAINT idempotency_keys_completed_has_response CHECK (
        state <> 'completed' OR (response_status IS NOT NULL AND completed_at IS NOT NULL)),
    CONSTRAINT idempotency_keys_response_status_http CHECK (
        response_status IS NULL OR response_status BETWEEN 100 AND 599),
    CONSTRAINT idempotency_keys_expires_after_creation CHECK (expires_at > created_at)
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

COMMENT ON TABLE idempotency_keys IS
    'Idempotency-Key per (user, key) with the request fingerprint and the stored outcome. Retention: '
    'deleted once expires_at (24 h) has passed, and on erasure.';
