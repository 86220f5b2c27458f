-- 0009 — AIS consents at the user's bank (Drop as AISP), and the accounts they cover.
--
-- `consents` (0002) holds the user's privacy consents; a consent at a bank is another thing
-- with a life of its own (the bank's id, its status, its validity), so it has its own table and
-- `bank_accounts` refers to it instead of repeating its status on every account.

CREATE TABLE bank_consents (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- The bank (ASPSP) as Drop's bank directory names it, e.g. `dnb`.
    aspsp_id            text        NOT NULL,
    -- The bank's consentId. The row is written once the bank has answered (no transaction is
    -- held open across a bank call); a consent the bank created but Drop never recorded was
    -- never shown to the user, so it is never authorised and lapses at the bank.
    external_id         text        NOT NULL,
    -- Ours (`domain::bank::ConsentStatus`), as last read from the bank.
    status              text        NOT NULL,
    -- As the bank granted it (it may shorten what was asked).
    valid_until         date,
    frequency_per_day   smallint    NOT NULL,
    -- SHA-256 of the random token in the bank's return URL: a return is matched to its consent
    -- by it, never by anything the bank or the browser could guess.
    return_token_hash   bytea       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT bank_consents_id_user_key UNIQUE (id, user_id),
    CONSTRAINT bank_consents_status_known CHECK (status IN (
        'received', 'valid', 'rejected', 'expired', 'revoked_by_psu', 'terminated_by_tpp')),
    CONSTRAINT bank_consents_external_id_shape CHECK (length(external_id) BETWEEN 1 AND 200),
    CONSTRAINT bank_consents_aspsp_id_shape CHECK (aspsp_id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    CONSTRAINT bank_consents_frequency_per_day_range CHECK (frequency_per_day BETWEEN 1 AND 4),
    CONSTRAINT bank_consents_return_token_hash_is_sha256 CHECK (octet_length(return_token_hash) = 32)
);

CREATE UNIQUE INDEX bank_consents_return_token_key ON bank_consents (return_token_hash);
CREATE UNIQUE INDEX bank_consents_external_key ON bank_consents (aspsp_id, external_id);
CREATE INDEX bank_consents_user_idx ON bank_consents (user_id, created_at DESC);

CREATE TRIGGER bank_consents_set_updated_at BEFORE UPDATE ON bank_consents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE bank_consents IS
    'AIS consents at the user''s banks: the bank''s consent id, status and validity as the bank '
    'reported them (a redirect back from the bank is only a hint; the status is read from the bank). '
    'Retention: kept while an account it covers is kept (a transaction may name that account), '
    'otherwise deleted on erasure.';

-- No code has written bank_accounts before this migration; its consent columns move to
-- bank_consents.
ALTER TABLE bank_accounts
    DROP CONSTRAINT bank_accounts_consent_status_known,
    DROP COLUMN consent_status,
    DROP COLUMN consent_valid_until,
    DROP COLUMN consent_id,
    ADD COLUMN consent_id uuid NOT NULL,
    ADD CONSTRAINT bank_accounts_consent_fkey
        FOREIGN KEY (consent_id, user_id) REFERENCES bank_consents (id, user_id) ON DELETE RESTRICT;

CREATE INDEX bank_accounts_consent_idx ON bank_accounts (consent_id);
