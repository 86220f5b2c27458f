-- The audit trail keeps the gateway's request id; the id a client sent is kept beside it,
-- never instead of it (a client could otherwise make its changes look like another request's).
ALTER TABLE audit_log ADD COLUMN client_request_id text
    CONSTRAINT audit_log_client_request_id_length CHECK (length(client_request_id) BETWEEN 1 AND 128);
