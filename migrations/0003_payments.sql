-- 0003 — money movement: exchange rates, the user's bank accounts and cards (AISP), recipients,
-- merchants, quotes and transactions (PISP).
--
-- Drop never holds customer funds and never stores balances: an account balance is read from
-- the user's bank on demand and cached only in DynamoDB (with its staleness), so no table below
-- has a balance column.

CREATE TABLE exchange_rates (
    base_currency       char(3)        NOT NULL DEFAULT 'NOK',
    quote_currency      char(3)        NOT NULL,
    -- Units of quote_currency for one unit of base_currency.
    reference_rate      numeric(20,10) NOT NULL,
    -- Mark-up taken off the reference rate, in basis points (1/100 of a percent).
    markup_bps          integer        NOT NULL,
    source              text           NOT NULL,
    as_of               timestamptz    NOT NULL,
    updated_at          timestamptz    NOT NULL DEFAULT now(),

    PRIMARY KEY (base_currency, quote_currency),
    CONSTRAINT exchange_rates_base_currency_nok CHECK (base_currency = 'NOK'),
    CONSTRAINT exchange_rates_quote_currency_iso4217 CHECK (quote_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT exchange_rates_currencies_differ CHECK (quote_currency <> base_currency),
    CONSTRAINT exchange_rates_reference_rate_positive CHECK (reference_rate > 0),
    CONSTRAINT exchange_rates_markup_bps_range CHECK (markup_bps BETWEEN 0 AND 1000),
    CONSTRAINT exchange_rates_source_not_blank CHECK (length(btrim(source)) > 0)
);

CREATE TRIGGER exchange_rates_set_updated_at BEFORE UPDATE ON exchange_rates
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE exchange_rates IS
    'The current reference rate and mark-up per NOK -> currency pair, overwritten on each refresh. No '
    'history table: every quote copies the reference rate, customer rate and mark-up it was priced '
    'with, and every transaction references its quote, so the rate a customer was given is kept with '
    'the payment record; mark-up changes by an admin are recorded in audit_log. Retention: current only.';


CREATE TABLE bank_accounts (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- RESTRICT: a transaction may name this account as its debtor account.
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- The account servicing bank (ASPSP) as configured in Drop, e.g. its BIC.
    aspsp_id            text        NOT NULL,
    -- The AIS consent at the ASPSP that lets Drop read this account.
    consent_id          text        NOT NULL,
    consent_status      text        NOT NULL DEFAULT 'received',
    consent_valid_until timestamptz,
    -- The ASPSP's resourceId for the account (Berlin Group), used in /accounts/{id}/balances.
    resource_id         text        NOT NULL,
    -- IBAN / kontonummer: AES-256-GCM ciphertext (AAD = id), a keyed hash to spot the same
    -- account twice, and the last 4 characters, which is all a client is ever shown.
    iban_ciphertext     bytea,
    iban_hmac           bytea,
    account_last4       char(4)     NOT NULL,
    currency            char(3)     NOT NULL,
    -- The bank's name for the account ("Brukskonto") and product, as reported by AIS.
    name                text,
    product             text,
    removed_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    -- Target of composite foreign keys: a payment's debtor account must be the payer's own.
    CONSTRAINT bank_accounts_id_user_key UNIQUE (id, user_id),
    CONSTRAINT bank_accounts_consent_status_known CHECK (consent_status IN (
        'received', 'valid', 'rejected', 'expired', 'revoked_by_psu', 'terminated_by_tpp')),
    CONSTRAINT bank_accounts_account_present_while_linked CHECK (
        removed_at IS NOT NULL OR (iban_ciphertext IS NOT NULL AND iban_hmac IS NOT NULL)),
    CONSTRAINT bank_accounts_iban_hmac_is_sha256 CHECK (iban_hmac IS NULL OR octet_length(iban_hmac) = 32),
    CONSTRAINT bank_accounts_account_last4_shape CHECK (account_last4 ~ '^[0-9A-Z]{4}$'),
    CONSTRAINT bank_accounts_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT bank_accounts_aspsp_id_not_blank CHECK (length(btrim(aspsp_id)) > 0),
    CONSTRAINT bank_accounts_resource_id_not_blank CHECK (length(btrim(resource_id)) > 0)
);

CREATE UNIQUE INDEX bank_accounts_linked_resource_key ON bank_accounts (user_id, aspsp_id, resource_id)
    WHERE removed_at IS NULL;
CREATE UNIQUE INDEX bank_accounts_linked_iban_key ON bank_accounts (user_id, iban_hmac)
    WHERE removed_at IS NULL;
CREATE INDEX bank_accounts_user_idx ON bank_accounts (user_id, created_at DESC, id DESC);

CREATE TRIGGER bank_accounts_set_updated_at BEFORE UPDATE ON bank_accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE bank_accounts IS
    'The user''s own bank accounts linked through an AIS consent (Drop as AISP). Account number stored '
    'only encrypted plus last 4; balances never stored. DELETE /v1/accounts/{id} sets removed_at and '
    'revokes the consent. Retention: a row no transaction refers to is deleted on erasure; one a '
    'transaction names as debtor account is part of that payment record and kept 5 years after the '
    'relationship ends (bokføringsloven § 13), with name and product cleared on erasure.';


CREATE TABLE cards (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    aspsp_id            text        NOT NULL,
    consent_id          text        NOT NULL,
    -- The ASPSP's resourceId for the card account (Berlin Group /v1/card-accounts).
    resource_id         text        NOT NULL,
    -- Only the last 4 digits of the PAN; Drop never sees or keeps a full card number.
    pan_last4           char(4)     NOT NULL,
    currency            char(3)     NOT NULL,
    name                text,
    product             text,
    removed_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT cards_pan_last4_digits CHECK (pan_last4 ~ '^[0-9]{4}$'),
    CONSTRAINT cards_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT cards_aspsp_id_not_blank CHECK (length(btrim(aspsp_id)) > 0),
    CONSTRAINT cards_resource_id_not_blank CHECK (length(btrim(resource_id)) > 0)
);

CREATE UNIQUE INDEX cards_linked_resource_key ON cards (user_id, aspsp_id, resource_id) WHERE removed_at IS NULL;
CREATE INDEX cards_user_idx ON cards (user_id, created_at DESC, id DESC);

CREATE TRIGGER cards_set_updated_at BEFORE UPDATE ON cards
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE cards IS
    'Card accounts the user''s bank exposes through the same AIS consent (Berlin Group card-accounts): '
    'read-only, shown with last 4 digits; Drop issues no cards, charges no cards and stores no balances. '
    'Retention: never part of a payment record, so deleted when the consent ends or the card is removed, '
    'and on erasure.';


CREATE TABLE recipients (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- RESTRICT: transactions refer to their recipient.
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    name                text,
    country             char(2)     NOT NULL,
    currency            char(3)     NOT NULL,
    -- Exactly one of iban / account_number while the row is live; account_number (non-IBAN
    -- corridors, paid over SWIFT) needs the bank's BIC, and may carry a national bank code
    -- (ABA routing number, IFSC, ...).
    iban                text,
    account_number      text,
    bic                 text,
    bank_code           text,
    -- What clients are shown of the account.
    account_last4       text        GENERATED ALWAYS AS (right(coalesce(iban, account_number), 4)) STORED,
    deleted_at          timestamptz,
    anonymised_at       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    -- Target of composite foreign keys: a payment's recipient must belong to the sender.
    CONSTRAINT recipients_id_user_key UNIQUE (id, user_id),
    CONSTRAINT recipients_name_length CHECK (
        (anonymised_at IS NOT NULL AND name IS NULL) OR length(btrim(name)) BETWEEN 1 AND 140),
    CONSTRAINT recipients_country_iso3166 CHECK (country ~ '^[A-Z]{2}$'),
    CONSTRAINT recipients_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT recipients_one_account CHECK (
        anonymised_at IS NOT NULL OR num_nonnulls(iban, account_number) = 1),
    CONSTRAINT recipients_iban_shape CHECK (iban IS NULL OR iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'),
    CONSTRAINT recipients_account_number_shape CHECK (
        account_number IS NULL OR account_number ~ '^[A-Z0-9]{1,34}$'),
    CONSTRAINT recipients_bic_shape CHECK (bic IS NULL OR bic ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
    CONSTRAINT recipients_account_number_needs_bic CHECK (account_number IS NULL OR bic IS NOT NULL),
    CONSTRAINT recipients_bank_code_shape CHECK (bank_code IS NULL OR bank_code ~ '^[A-Z0-9]{1,20}$'),
    CONSTRAINT recipients_deleted_before_anonymised CHECK (anonymised_at IS NULL OR deleted_at IS NOT NULL)
);

-- The user's recipient list, newest first, cursor friendly.
CREATE INDEX recipients_user_live_idx ON recipients (user_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TRIGGER recipients_set_updated_at BEFORE UPDATE ON recipients
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE recipients IS
    'People the user sends money to. DELETE sets deleted_at (soft delete). Retention: a recipient no '
    'transaction refers to is deleted outright on erasure; one a transaction refers to is the payee '
    'information of that payment record and is kept 5 years after the relationship ends '
    '(hvitvaskingsloven § 30), then anonymised (name and account cleared, anonymised_at set).';


CREATE TABLE merchants (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- RESTRICT: QR payments refer to the merchant, and the merchant to its owner.
    owner_user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    organisation_number text        NOT NULL,
    legal_name          text        NOT NULL,
    display_name        text        NOT NULL,
    -- Where QR payments are sent: the merchant's Norwegian business account as an IBAN.
    settlement_iban     text        NOT NULL,
    status              text        NOT NULL DEFAULT 'pending',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    -- GET /v1/merchants/me: one merchant per owner, one per organisation.
    CONSTRAINT merchants_owner_user_id_key UNIQUE (owner_user_id),
    CONSTRAINT merchants_organisation_number_key UNIQUE (organisation_number),
    -- Brønnøysund organisation numbers: 9 digits starting with 8 or 9 (mod-11 checked in the app).
    CONSTRAINT merchants_organisation_number_shape CHECK (organisation_number ~ '^[89][0-9]{8}$'),
    CONSTRAINT merchants_legal_name_length CHECK (length(btrim(legal_name)) BETWEEN 1 AND 200),
    CONSTRAINT merchants_display_name_length CHECK (length(btrim(display_name)) BETWEEN 1 AND 100),
    CONSTRAINT merchants_settlement_iban_norwegian CHECK (settlement_iban ~ '^NO[0-9]{13}$'),
    CONSTRAINT merchants_status_known CHECK (status IN ('pending', 'active', 'suspended', 'closed'))
);

CREATE TRIGGER merchants_set_updated_at BEFORE UPDATE ON merchants
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE merchants IS
    'Businesses paid by QR code. Company data, not personal data. Retention: kept 5 years after the '
    'merchant relationship ends (status closed), as QR payment records refer to it.';


CREATE TABLE quotes (
    id                  uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL for a quote asked for anonymously (POST /v1/quotes is public in the first version);
    -- the payment that consumes a quote claims it for the payer in the same statement that sets
    -- used_at, and the composite foreign key from transactions then proves the quote was his.
    user_id             uuid           REFERENCES users (id) ON DELETE RESTRICT,
    destination_country char(2)        NOT NULL,
    send_amount         numeric(20,4)  NOT NULL,
    send_currency       char(3)        NOT NULL DEFAULT 'NOK',
    fee                 numeric(20,4)  NOT NULL,
    total_charged       numeric(20,4)  NOT NULL,
    reference_rate      numeric(20,10) NOT NULL,
    customer_rate       numeric(20,10) NOT NULL,
    -- The mark-up of customer_rate under reference_rate in percent, as disclosed
    -- (EU Regulation 2021/1230).
    markup_percent      numeric(7,4)   NOT NULL,
    receive_amount      numeric(20,4)  NOT NULL,
    receive_currency    char(3)        NOT NULL,
    rate_source         text           NOT NULL,
    created_at          timestamptz    NOT NULL DEFAULT now(),
    expires_at          timestamptz    NOT NULL,
    -- Set once, by the payment that consumes the quote.
    used_at             timestamptz,

    CONSTRAINT quotes_id_user_key UNIQUE (id, user_id),
    CONSTRAINT quotes_destination_country_iso3166 CHECK (destination_country ~ '^[A-Z]{2}$'),
    CONSTRAINT quotes_send_amount_positive CHECK (send_amount > 0),
    CONSTRAINT quotes_send_currency_iso4217 CHECK (send_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT quotes_send_currency_nok CHECK (send_currency = 'NOK'),
    CONSTRAINT quotes_fee_not_negative CHECK (fee >= 0),
    CONSTRAINT quotes_total_is_send_plus_fee CHECK (total_charged = send_amount + fee),
    CONSTRAINT quotes_reference_rate_positive CHECK (reference_rate > 0),
    CONSTRAINT quotes_customer_rate_positive CHECK (customer_rate > 0),
    CONSTRAINT quotes_customer_rate_not_above_reference CHECK (customer_rate <= reference_rate),
    CONSTRAINT quotes_markup_percent_range CHECK (markup_percent >= 0 AND markup_percent < 100),
    CONSTRAINT quotes_receive_amount_positive CHECK (receive_amount > 0),
    CONSTRAINT quotes_receive_currency_iso4217 CHECK (receive_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT quotes_rate_source_not_blank CHECK (length(btrim(rate_source)) > 0),
    CONSTRAINT quotes_expires_after_creation CHECK (expires_at > created_at),
    CONSTRAINT quotes_used_before_expiry CHECK (used_at IS NULL OR used_at < expires_at)
);

-- Purging quotes nobody paid with.
CREATE INDEX quotes_unused_expires_at_idx ON quotes (expires_at) WHERE used_at IS NULL;
CREATE INDEX quotes_user_idx ON quotes (user_id, created_at DESC, id DESC) WHERE user_id IS NOT NULL;

COMMENT ON TABLE quotes IS
    'Priced remittance terms shown before payment (amount, fee, total, reference and customer rate, '
    'mark-up, amount received, expiry), honoured until expires_at and consumed at most once. Retention: '
    'a used quote is part of its transaction''s record and kept as long as it (5 years after the '
    'relationship ends); unused quotes are deleted 30 days after expiry.';


-- Transaction status — the state machine (the Rust domain type is the one place that decides
-- which transition a request may make; the database only refuses what no correct code does):
--
--   created      row written, payment not yet initiated at the bank (or initiation being retried)
--   pending_sca  the bank accepted the initiation and returned an SCA redirect; waiting for the
--                user to approve it at the bank
--   authorised   the user approved with SCA; the bank accepted the payment for execution
--   executed     the bank executed the payment                                       (final)
--   rejected     the bank refused it, or the user failed or declined SCA             (final)
--   failed       Drop could not initiate or confirm it after its retries             (final)
--   cancelled    the user cancelled before the bank executed it                      (final)
--   expired      SCA was not completed in time, or the quote ran out before initiation (final)
--
--   created → pending_sca → authorised → executed
--      └──────────┴─────────────┴──────→ rejected | failed | cancelled | expired
--
-- Enforced here: the status is one of these; it only moves forward (created < pending_sca <
-- authorised < final states), so a late or replayed webhook can never move a payment back or
-- out of a final state; and the priced terms of a payment never change after it is written.
CREATE TABLE transactions (
    id                  uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
    -- RESTRICT: users are anonymised, never deleted; the payment record outlives erasure.
    user_id             uuid           NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind                text           NOT NULL,
    status              text           NOT NULL DEFAULT 'created',
    -- What leaves the payer's account, before the fee.
    amount              numeric(20,4)  NOT NULL,
    currency            char(3)        NOT NULL DEFAULT 'NOK',
    fee                 numeric(20,4)  NOT NULL DEFAULT 0,
    total_amount        numeric(20,4)  NOT NULL,
    -- Remittances: the customer rate, what arrives and in which currency (copied from the quote).
    exchange_rate       numeric(20,10),
    receive_amount      numeric(20,4),
    receive_currency    char(3),
    quote_id            uuid,
    recipient_id        uuid,
    -- QR payments: the merchant paid.
    merchant_id         uuid           REFERENCES merchants (id) ON DELETE RESTRICT,
    -- The debtor account when the user picked one in Drop (else the bank asks during SCA).
    bank_account_id     uuid,
    -- SEPA inside the EEA, SWIFT elsewhere; NULL for domestic QR payments.
    rail                text,
    -- The ASPSP that initiated the payment and its paymentId (Berlin Group).
    aspsp_id            text,
    bank_payment_id     text,
    -- The end-to-end reference sent to the bank (at most 35 characters, ISO 20022).
    end_to_end_id       text           NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', ''),
    -- The client's Idempotency-Key for the request that created the payment.
    idempotency_key     text,
    -- Unstructured remittance information shown to the payee.
    remittance_information text,
    -- The bank's or Drop's reason for rejected / failed / expired.
    status_reason       text,
    authorised_at       timestamptz,
    completed_at        timestamptz,
    created_at          timestamptz    NOT NULL DEFAULT now(),
    updated_at          timestamptz    NOT NULL DEFAULT now(),

    -- The quote, recipient and debtor account must be the payer's own.
    CONSTRAINT transactions_quote_fkey FOREIGN KEY (quote_id, user_id)
        REFERENCES quotes (id, user_id) ON DELETE RESTRICT,
    CONSTRAINT transactions_recipient_fkey FOREIGN KEY (recipient_id, user_id)
        REFERENCES recipients (id, user_id) ON DELETE RESTRICT,
    CONSTRAINT transactions_bank_account_fkey FOREIGN KEY (bank_account_id, user_id)
        REFERENCES bank_accounts (id, user_id) ON DELETE RESTRICT,
    -- A quote pays for one payment only.
    CONSTRAINT transactions_quote_id_key UNIQUE (quote_id),
    CONSTRAINT transactions_end_to_end_id_key UNIQUE (end_to_end_id),

    CONSTRAINT transactions_kind_known CHECK (kind IN ('remittance', 'qr_payment')),
    CONSTRAINT transactions_status_known CHECK (status IN (
        'created', 'pending_sca', 'authorised', 'executed', 'rejected', 'failed', 'cancelled', 'expired')),
    CONSTRAINT transactions_amount_positive CHECK (amount > 0),
    CONSTRAINT transactions_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT transactions_currency_nok CHECK (currency = 'NOK'),
    CONSTRAINT transactions_fee_not_negative CHECK (fee >= 0),
    CONSTRAINT transactions_total_positive CHECK (total_amount > 0),
    CONSTRAINT transactions_total_is_amount_plus_fee CHECK (total_amount = amount + fee),
    CONSTRAINT transactions_exchange_rate_positive CHECK (exchange_rate IS NULL OR exchange_rate > 0),
    CONSTRAINT transactions_receive_amount_positive CHECK (receive_amount IS NULL OR receive_amount > 0),
    CONSTRAINT transactions_receive_currency_iso4217 CHECK (
        receive_currency IS NULL OR receive_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT transactions_rail_known CHECK (rail IS NULL OR rail IN ('SEPA', 'SWIFT')),
    CONSTRAINT transactions_remittance_shape CHECK (
        kind <> 'remittance' OR (
            quote_id IS NOT NULL AND recipient_id IS NOT NULL AND merchant_id IS NULL AND rail IS NOT NULL
            AND exchange_rate IS NOT NULL AND receive_amount IS NOT NULL AND receive_currency IS NOT NULL)),
    CONSTRAINT transactions_qr_payment_shape CHECK (
        kind <> 'qr_payment' OR (
            merchant_id IS NOT NULL AND quote_id IS NULL AND recipient_id IS NULL AND rail IS NULL
            AND exchange_rate IS NULL AND receive_amount IS NULL AND receive_currency IS NULL)),
    CONSTRAINT transactions_end_to_end_id_shape CHECK (end_to_end_id ~ '^[A-Za-z0-9./:?()+,''-]{1,35}$'),
    CONSTRAINT transactions_idempotency_key_length CHECK (
        idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
    CONSTRAINT transactions_remittance_information_length CHECK (
        remittance_information IS NULL OR length(remittance_information) <= 140),
    CONSTRAINT transactions_bank_payment_id_has_aspsp CHECK (bank_payment_id IS NULL OR aspsp_id IS NOT NULL)
);

-- Payment history, newest first, cursor (created_at, id) friendly.
CREATE INDEX transactions_user_history_idx ON transactions (user_id, created_at DESC, id DESC);
-- Merchant dashboard.
CREATE INDEX transactions_merchant_history_idx ON transactions (merchant_id, created_at DESC, id DESC)
    WHERE merchant_id IS NOT NULL;
-- Foreign keys that RESTRICT deletes need an index on the referencing side.
CREATE INDEX transactions_recipient_idx ON transactions (recipient_id) WHERE recipient_id IS NOT NULL;
CREATE INDEX transactions_bank_account_idx ON transactions (bank_account_id) WHERE bank_account_id IS NOT NULL;
-- The PISP webhook and status poller find a payment by the bank's id.
CREATE UNIQUE INDEX transactions_bank_payment_key ON transactions (aspsp_id, bank_payment_id)
    WHERE bank_payment_id IS NOT NULL;
-- One payment per Idempotency-Key and user.
CREATE UNIQUE INDEX transactions_idempotency_key ON transactions (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- worker-payments / job-retention: payments still in flight.
CREATE INDEX transactions_in_flight_idx ON transactions (status, updated_at)
    WHERE status IN ('created', 'pending_sca', 'authorised');

CREATE FUNCTION transaction_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'created' THEN 0
        WHEN 'pending_sca' THEN 1
        WHEN 'authorised' THEN 2
        ELSE 3
    END
$$;

CREATE FUNCTION transactions_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND transaction_status_rank(NEW.status) <= transaction_status_rank(OLD.status) THEN
        RAISE EXCEPTION 'transaction % cannot move from status % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'transactions_status_forward_only',
                  TABLE = 'transactions', COLUMN = 'status';
    END IF;
    IF (NEW.user_id, NEW.kind, NEW.amount, NEW.currency, NEW.fee, NEW.total_amount, NEW.exchange_rate,
        NEW.receive_amount, NEW.receive_currency, NEW.quote_id, NEW.recipient_id, NEW.merchant_id,
        NEW.rail, NEW.end_to_end_id, NEW.created_at)
       IS DISTINCT FROM
       (OLD.user_id, OLD.kind, OLD.amount, OLD.currency, OLD.fee, OLD.total_amount, OLD.exchange_rate,
        OLD.receive_amount, OLD.receive_currency, OLD.quote_id, OLD.recipient_id, OLD.merchant_id,
        OLD.rail, OLD.end_to_end_id, OLD.created_at) THEN
        RAISE EXCEPTION 'the terms of transaction % cannot change after it is created', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'transactions_terms_immutable',
                  TABLE = 'transactions';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER transactions_guard BEFORE UPDATE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_guard();
CREATE TRIGGER transactions_set_updated_at BEFORE UPDATE ON transactions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE transactions IS
    'Remittances and QR payments initiated by Drop as PISP (Drop never holds the money). Retention: '
    'neither deleted nor anonymised for 5 years after the customer relationship ends (hvitvaskingsloven '
    '§ 30, bokføringsloven § 13), also after erasure of the user. Status machine and its guards: see the '
    'comment above CREATE TABLE in 0003_payments.sql.';
