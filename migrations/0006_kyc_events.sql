-- Know-your-customer with Sumsub: every verified webhook delivery, and the user-visible reason.

-- Every Sumsub webhook that passed signature verification, minimised to what the KYC decision
-- needs: no names, documents or Sumsub's internal clientComment. The digest of the raw body is
-- unique, so a delivery is applied once however often Sumsub sends it. Events for an applicant
-- Drop does not know are kept (user_id NULL) for investigation, never dropped.
CREATE TABLE kyc_events (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    provider            text        NOT NULL DEFAULT 'sumsub',
    body_digest         bytea       NOT NULL,
    event_type          text        NOT NULL,
    applicant_id        text        NOT NULL,
    external_user_id    text,
    user_id             uuid        REFERENCES users (id) ON DELETE RESTRICT,
    review_answer       text,
    reject_type         text,
    reject_labels       text[]      NOT NULL DEFAULT '{}',
    review_status       text,
    -- Sumsub's createdAtMs ("2020-02-21 13:23:19.321", UTC), parsed; orders reviews.
    provider_created_at timestamptz,
    -- What the event did: applied, or why it changed nothing.
    outcome             text        NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT kyc_events_body_digest_is_sha256 CHECK (octet_length(body_digest) = 32),
    CONSTRAINT kyc_events_body_digest_key UNIQUE (body_digest),
    CONSTRAINT kyc_events_event_type_not_blank CHECK (length(btrim(event_type)) > 0),
    CONSTRAINT kyc_events_review_answer_known CHECK (review_answer IS NULL OR review_answer IN ('GREEN', 'RED')),
    CONSTRAINT kyc_events_reject_type_known CHECK (reject_type IS NULL OR reject_type IN ('RETRY', 'FINAL')),
    CONSTRAINT kyc_events_outcome_known CHECK (outcome IN (
        'applied', 'unchanged', 'older_than_applied', 'final_answer_stands', 'ignored_type', 'unknown_applicant'))
);
CREATE INDEX kyc_events_user_newest_idx ON kyc_events (user_id, provider_created_at DESC) WHERE outcome = 'applied';
CREATE INDEX kyc_events_unknown_applicant_idx ON kyc_events (applicant_id, received_at DESC) WHERE user_id IS NULL;
COMMENT ON TABLE kyc_events IS
    'Verified Sumsub webhook deliveries, minimised. Retention: customer due diligence records, 5 years '
    'after the customer relationship ends (hvitvaskingsloven § 30); unknown-applicant rows 5 years after receipt.';

-- The reason Sumsub gives the user (moderationComment) when it asks for resubmission or rejects;
-- never its clientComment, which is for Drop's compliance staff.
ALTER TABLE users ADD COLUMN kyc_reason text;
ALTER TABLE users ADD COLUMN kyc_reviewed_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_kyc_reason_length CHECK (kyc_reason IS NULL OR length(kyc_reason) <= 2000);
