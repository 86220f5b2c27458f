-- 0002 — people: users, their sessions, settings, spending limits and privacy consents.

CREATE TABLE users (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- BankID's stable per-merchant subject (not `sub`). NULL only once anonymised.
    bankid_altsub       text,
    -- Fødselsnummer / D-number: AES-256-GCM ciphertext (nonce ‖ ciphertext ‖ tag, the row id as
    -- associated data) under its own key, and a keyed HMAC-SHA-256 to find a user by it.
    -- There is never a plain column for it.
    fnr_ciphertext      bytea,
    fnr_hmac            bytea,
    given_name          text,
    family_name         text,
    birth_date          date,
    phone_e164          text,
    email               text,
    kyc_status          text        NOT NULL DEFAULT 'not_started',
    sumsub_applicant_id text,
    roles               text[]      NOT NULL DEFAULT ARRAY['user']::text[],
    blocked_at          timestamptz,
    blocked_reason      text,
    -- When the customer relationship ended (account closed or erasure requested): the clock
    -- for the 5-year AML/bookkeeping retention starts here.
    relationship_ended_at timestamptz,
    anonymised_at       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT users_identity_present_unless_anonymised CHECK (
        anonymised_at IS NOT NULL OR (
            bankid_altsub IS NOT NULL AND fnr_ciphertext IS NOT NULL AND fnr_hmac IS NOT NULL
            AND given_name IS NOT NULL AND family_name IS NOT NULL AND birth_date IS NOT NULL)),
    CONSTRAINT users_bankid_altsub_not_blank CHECK (bankid_altsub IS NULL OR length(btrim(bankid_altsub)) > 0),
    -- 12-byte nonce + 11 bytes of plaintext + 16-byte tag at the very least.
    CONSTRAINT users_fnr_ciphertext_length CHECK (fnr_ciphertext IS NULL OR octet_length(fnr_ciphertext) >= 39),
    CONSTRAINT users_fnr_hmac_is_sha256 CHECK (fnr_hmac IS NULL OR octet_length(fnr_hmac) = 32),
    CONSTRAINT users_given_name_length CHECK (given_name IS NULL OR length(given_name) BETWEEN 1 AND 200),
    CONSTRAINT users_family_name_length CHECK (family_name IS NULL OR length(family_name) BETWEEN 1 AND 200),
    CONSTRAINT users_adult_at_registration CHECK (
        birth_date IS NULL
        OR birth_date <= ((created_at AT TIME ZONE 'Europe/Oslo')::date - interval '18 years')::date),
    -- Norwegian mobile numbers only: +47 followed by 8 digits starting with 4 or 9.
    CONSTRAINT users_phone_norwegian_mobile CHECK (phone_e164 IS NULL OR phone_e164 ~ '^\+47[49][0-9]{7}$'),
    CONSTRAINT users_email_shape CHECK (
        email IS NULL OR (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$')),
    CONSTRAINT users_kyc_status_known CHECK (kyc_status IN (
        'not_started', 'pending', 'approved', 'resubmission_requested', 'rejected', 'on_hold')),
    CONSTRAINT users_sumsub_applicant_id_not_blank CHECK (
        sumsub_applicant_id IS NULL OR length(btrim(sumsub_applicant_id)) > 0),
    CONSTRAINT users_roles_known CHECK (roles <@ ARRAY['user', 'merchant', 'admin']::text[]),
    CONSTRAINT users_roles_not_empty CHECK (cardinality(roles) >= 1),
    CONSTRAINT users_blocked_reason_only_when_blocked CHECK (blocked_reason IS NULL OR blocked_at IS NOT NULL),
    CONSTRAINT users_anonymised_after_relationship_ended CHECK (
        anonymised_at IS NULL OR relationship_ended_at IS NOT NULL)
);

-- One live account per BankID identity and per person. Anonymised rows drop out of the
-- uniqueness, so a former customer can come back while the old row (which may still carry
-- fnr_hmac for the AML retention period) is kept.
CREATE UNIQUE INDEX users_bankid_altsub_live_key ON users (bankid_altsub) WHERE anonymised_at IS NULL;
CREATE UNIQUE INDEX users_fnr_hmac_live_key ON users (fnr_hmac) WHERE anonymised_at IS NULL;
-- Former customers are still found by fnr_hmac (AML: "have we had this person before?").
CREATE INDEX users_fnr_hmac_idx ON users (fnr_hmac);
CREATE UNIQUE INDEX users_sumsub_applicant_id_key ON users (sumsub_applicant_id);
-- The retention job: relationships that ended, not yet anonymised.
CREATE INDEX users_relationship_ended_idx ON users (relationship_ended_at)
    WHERE relationship_ended_at IS NOT NULL AND anonymised_at IS NULL;

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE users IS
    'Customers, merchants'' owners and admins, identified by BankID. Retention: never deleted. Erasure '
    'anonymises the row (names, phone, email, bankid_altsub cleared; anonymised_at set) so the transaction '
    'and AML records that reference it survive; the identity needed for customer due diligence '
    '(fnr_ciphertext, fnr_hmac, birth_date) is kept until 5 years after relationship_ended_at '
    '(hvitvaskingsloven § 30), then cleared by the retention job.';
COMMENT ON COLUMN users.fnr_ciphertext IS 'AES-256-GCM(fødselsnummer), AAD = users.id. Never stored in plain text.';
COMMENT ON COLUMN users.fnr_hmac IS 'HMAC-SHA-256(fødselsnummer) under its own key: the lookup key for a person.';


CREATE TABLE sessions (
    -- The JWT's jti: a token is only honoured while its row is unrevoked and unexpired, so
    -- logout and blocking take effect at once.
    jti                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoked_reason      text,
    ip                  inet,
    ip_pseudonymised_at timestamptz,
    user_agent          text,

    CONSTRAINT sessions_kind_known CHECK (kind IN ('web', 'mobile')),
    CONSTRAINT sessions_expires_after_creation CHECK (expires_at > created_at),
    -- Web cookie sessions last 24 hours, mobile bearer tokens 7 days. The 5 minutes allow for
    -- expires_at computed on the function's clock while created_at defaults to the database's.
    CONSTRAINT sessions_lifetime_within_policy CHECK (
        (kind = 'web' AND expires_at <= created_at + interval '24 hours 5 minutes')
        OR (kind = 'mobile' AND expires_at <= created_at + interval '7 days 5 minutes')),
    CONSTRAINT sessions_revoked_reason_only_when_revoked CHECK (revoked_reason IS NULL OR revoked_at IS NOT NULL),
    CONSTRAINT sessions_user_agent_length CHECK (user_agent IS NULL OR length(user_agent) <= 512)
);

-- Revoking every live session of a user (logout everywhere, blocking, erasure).
CREATE INDEX sessions_user_live_idx ON sessions (user_id, expires_at) WHERE revoked_at IS NULL;
-- Purging expired sessions.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
-- Pseudonymising IPs older than 3 months.
CREATE INDEX sessions_ip_to_pseudonymise_idx ON sessions (created_at)
    WHERE ip IS NOT NULL AND ip_pseudonymised_at IS NULL;

COMMENT ON TABLE sessions IS
    'Server-side sessions (web 24 h, mobile 7 days). Retention: ip pseudonymised (pseudonymise_ip) after '
    '3 months; rows deleted 3 months after expiry or revocation, and on erasure.';


CREATE TABLE settings (
    user_id             uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    language            text        NOT NULL DEFAULT 'nb',
    push_notifications  boolean     NOT NULL DEFAULT true,
    email_notifications boolean     NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT settings_language_known CHECK (language IN ('nb', 'en'))
);

CREATE TRIGGER settings_set_updated_at BEFORE UPDATE ON settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE settings IS
    'Per-user preferences (absent row = defaults). Marketing opt-in is not here: it is a consent, '
    'recorded with its version in consents. Retention: for the life of the account; deleted on erasure.';


CREATE TABLE spending_limits (
    user_id             uuid          PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    currency            char(3)       NOT NULL DEFAULT 'NOK',
    daily_limit         numeric(20,4) NOT NULL,
    monthly_limit       numeric(20,4) NOT NULL,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT spending_limits_currency_nok CHECK (currency = 'NOK'),
    CONSTRAINT spending_limits_daily_positive CHECK (daily_limit > 0),
    CONSTRAINT spending_limits_monthly_positive CHECK (monthly_limit > 0),
    CONSTRAINT spending_limits_daily_within_monthly CHECK (daily_limit <= monthly_limit)
);

CREATE TRIGGER spending_limits_set_updated_at BEFORE UPDATE ON spending_limits
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE spending_limits IS
    'User-chosen daily and monthly caps on what is sent (absent row = product defaults). Changes are '
    'audited in audit_log. Retention: for the life of the account; deleted on erasure.';


CREATE TABLE consents (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose             text        NOT NULL,
    granted             boolean     NOT NULL,
    -- Version of the consent text the user saw.
    version             text        NOT NULL,
    source              text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT consents_purpose_known CHECK (purpose IN ('marketing', 'analytics', 'personalisation')),
    CONSTRAINT consents_version_not_blank CHECK (length(btrim(version)) > 0),
    CONSTRAINT consents_source_known CHECK (source IN ('web', 'mobile', 'support'))
);

-- The current answer per purpose is the newest row.
CREATE INDEX consents_user_purpose_newest_idx ON consents (user_id, purpose, created_at DESC, id DESC);

COMMENT ON TABLE consents IS
    'Privacy consents as an insert-only history: every grant or withdrawal is a new row, the newest row '
    'per (user, purpose) is the current answer, and the history is the proof (GDPR art. 7(1)). '
    'Retention: while the account exists and 3 years after the relationship ends (limitation period), '
    'then deleted.';
