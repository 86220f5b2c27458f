-- The audit trail keeps the gateway's request id; the id a client sent is kept beside it,
-- never instead of it (a client could otherwise make its changes look like another request's).
ALTER TABLE audit_log ADD COLUMN client_request_id text
    CONSTRAINT audit_log_client_request_id_length CHECK (length(client_request_id) BETWEEN 1 AND 128);

-- What a session was signed in with: BankID's assurance level (`acr`) and when the person
-- authenticated (`auth_time`). Risky changes (a higher spending limit, a new phone number or
-- email) need an authentication within the last minutes. Sessions from before this migration
-- have neither, so they count as not recently authenticated.
ALTER TABLE sessions
    ADD COLUMN acr text CONSTRAINT sessions_acr_length CHECK (length(acr) BETWEEN 1 AND 100),
    ADD COLUMN auth_time timestamptz;
