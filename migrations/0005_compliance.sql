-- 0005 — compliance records: the audit log, AML alerts, suspicious transaction reports,
-- PEP/sanctions screening, data-subject requests and complaints.
--
-- aml_alerts, str_reports and screening_results are never shown to the customer and never part
-- of the GDPR export: telling a customer about suspicion or a report is forbidden (tipping-off
-- prohibition, hvitvaskingsloven), and GDPR art. 23 / personopplysningsloven § 16 exempt them.

CREATE TABLE audit_log (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- RESTRICT: the user row is anonymised, never deleted, so the trail keeps its actor.
    actor_user_id       uuid        REFERENCES users (id) ON DELETE RESTRICT,
    actor_kind          text        NOT NULL,
    -- What was done, e.g. 'transaction.created', 'user.blocked', 'exchange_rate.markup_changed'.
    action              text        NOT NULL,
    -- What it was done to: a table-like type and the row's id.
    target_type         text,
    target_id           uuid,
    -- The x-request-id of the request that did it.
    request_id          text,
    ip                  inet,
    ip_pseudonymised_at timestamptz,
    -- Structured facts about the action. Ids and codes only: never fødselsnummer, names, IBANs
    -- or tokens.
    details             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT audit_log_actor_kind_known CHECK (actor_kind IN ('user', 'admin', 'system', 'provider')),
    CONSTRAINT audit_log_person_actor_identified CHECK (
        actor_kind NOT IN ('user', 'admin') OR actor_user_id IS NOT NULL),
    CONSTRAINT audit_log_action_shape CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    CONSTRAINT audit_log_target_type_shape CHECK (target_type IS NULL OR target_type ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT audit_log_target_id_has_type CHECK (target_id IS NULL OR target_type IS NOT NULL),
    CONSTRAINT audit_log_request_id_length CHECK (request_id IS NULL OR length(request_id) <= 128),
    CONSTRAINT audit_log_details_is_object CHECK (jsonb_typeof(details) = 'object')
);

-- The history of one thing (a transaction, a user), newest first.
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, created_at DESC, id DESC)
    WHERE target_id IS NOT NULL;
-- What one person did.
CREATE INDEX audit_log_actor_idx ON audit_log (actor_user_id, created_at DESC, id DESC)
    WHERE actor_user_id IS NOT NULL;
CREATE INDEX audit_log_request_idx ON audit_log (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);
CREATE INDEX audit_log_ip_to_pseudonymise_idx ON audit_log (created_at)
    WHERE ip IS NOT NULL AND ip_pseudonymised_at IS NULL;

-- Append-only, enforced here for every role that does not own the table:
--   * UPDATE is refused, except the one the DPIA requires: pseudonymising the IP once
--     (ip := pseudonymise_ip(ip) or NULL, ip_pseudonymised_at set, nothing else changed);
--   * DELETE is refused, except for rows older than the 5-year retention floor, and only by a
--     session that declares itself the retention job (SET LOCAL drop.retention_purge = 'on');
--   * TRUNCATE is always refused.
-- (A table owner can disable triggers; the functions run as a role that owns nothing.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (to_jsonb(NEW) - 'ip' - 'ip_pseudonymised_at') = (to_jsonb(OLD) - 'ip' - 'ip_pseudonymised_at')
           AND OLD.ip_pseudonymised_at IS NULL
           AND NEW.ip_pseudonymised_at IS NOT NULL
           AND (NEW.ip IS NULL OR NEW.ip = pseudonymise_ip(OLD.ip)) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: UPDATE of entry % refused', OLD.id
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'audit_log_append_only',
                  TABLE = 'audit_log',
                  HINT = 'Only pseudonymising ip (ip = pseudonymise_ip(ip), ip_pseudonymised_at = now()) is allowed.';
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.created_at < now() - interval '5 years'
           AND current_setting('drop.retention_purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: DELETE of entry % refused', OLD.id
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'audit_log_append_only',
                  TABLE = 'audit_log';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'audit_log_append_only',
              TABLE = 'audit_log';
END;
$$;

CREATE TRIGGER audit_log_append_only_rows BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_append_only_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

COMMENT ON TABLE audit_log IS
    'Append-only trail of security- and money-relevant actions (enforced by trigger). Retention: ip '
    'pseudonymised after 3 months; rows kept at least 5 years (hvitvaskingsloven § 30, bokføringsloven '
    '§ 13) and deleted by the retention job only after that.';


CREATE TABLE aml_alerts (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    transaction_id      uuid        REFERENCES transactions (id) ON DELETE RESTRICT,
    status              text        NOT NULL DEFAULT 'open',
    severity            text        NOT NULL,
    -- The rule that fired, e.g. 'velocity_24h', 'high_risk_corridor', 'sanctions_possible_match'.
    reason              text        NOT NULL,
    details             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    resolution          text,
    resolution_note     text,
    resolved_by         uuid        REFERENCES users (id) ON DELETE RESTRICT,
    resolved_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT aml_alerts_status_known CHECK (status IN ('open', 'resolved')),
    CONSTRAINT aml_alerts_severity_known CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT aml_alerts_reason_shape CHECK (reason ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT aml_alerts_details_is_object CHECK (jsonb_typeof(details) = 'object'),
    CONSTRAINT aml_alerts_resolution_known CHECK (resolution IS NULL OR resolution IN (
        'false_positive', 'risk_accepted', 'str_filed', 'relationship_ended')),
    CONSTRAINT aml_alerts_resolution_consistent CHECK (
        (status = 'open' AND resolution IS NULL AND resolved_at IS NULL AND resolved_by IS NULL)
        OR (status = 'resolved' AND resolution IS NOT NULL AND resolved_at IS NOT NULL))
);

-- worker-aml is an at-least-once SQS consumer: a redelivered message must not raise the same
-- alert twice.
CREATE UNIQUE INDEX aml_alerts_transaction_reason_key ON aml_alerts (transaction_id, reason)
    WHERE transaction_id IS NOT NULL;
-- GET /v1/admin/aml-alerts?status=open, newest first.
CREATE INDEX aml_alerts_status_idx ON aml_alerts (status, created_at DESC, id DESC);
CREATE INDEX aml_alerts_user_idx ON aml_alerts (user_id, created_at DESC, id DESC);

CREATE TRIGGER aml_alerts_set_updated_at BEFORE UPDATE ON aml_alerts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE aml_alerts IS
    'Alerts raised by AML monitoring of users and transactions, resolved by an admin. Never shown to the '
    'user nor exported to them. Retention: 5 years after the customer relationship ends '
    '(hvitvaskingsloven § 30), also after erasure.';


CREATE TABLE str_reports (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    aml_alert_id        uuid        REFERENCES aml_alerts (id) ON DELETE RESTRICT,
    -- The transactions the report is about (transactions are never deleted, so no dangling ids).
    transaction_ids     uuid[]      NOT NULL DEFAULT '{}'::uuid[],
    status              text        NOT NULL DEFAULT 'draft',
    narrative           text        NOT NULL,
    created_by          uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    submitted_by        uuid        REFERENCES users (id) ON DELETE RESTRICT,
    submitted_at        timestamptz,
    -- The reference the FIU (Økokrim's Enheten for finansiell etterretning) gave the report.
    external_reference  text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT str_reports_status_known CHECK (status IN ('draft', 'submitted', 'acknowledged')),
    CONSTRAINT str_reports_narrative_not_blank CHECK (length(btrim(narrative)) > 0),
    CONSTRAINT str_reports_transaction_ids_no_nulls CHECK (array_position(transaction_ids, NULL) IS NULL),
    CONSTRAINT str_reports_submission_consistent CHECK (
        (status = 'draft' AND submitted_at IS NULL AND submitted_by IS NULL)
        OR (status IN ('submitted', 'acknowledged') AND submitted_at IS NOT NULL AND submitted_by IS NOT NULL)),
    CONSTRAINT str_reports_acknowledged_has_reference CHECK (
        status <> 'acknowledged' OR external_reference IS NOT NULL)
);

CREATE INDEX str_reports_status_idx ON str_reports (status, created_at DESC, id DESC);
CREATE INDEX str_reports_user_idx ON str_reports (user_id, created_at DESC, id DESC);
CREATE INDEX str_reports_aml_alert_idx ON str_reports (aml_alert_id) WHERE aml_alert_id IS NOT NULL;
CREATE INDEX str_reports_transaction_ids_idx ON str_reports USING gin (transaction_ids);

-- A report that has been filed is what was filed: after submission only the FIU's
-- acknowledgement (status and external_reference) may still be recorded.
CREATE FUNCTION str_reports_frozen_after_submission() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' AND (
        (NEW.user_id, NEW.aml_alert_id, NEW.transaction_ids, NEW.narrative, NEW.created_by,
         NEW.submitted_by, NEW.submitted_at, NEW.created_at)
        IS DISTINCT FROM
        (OLD.user_id, OLD.aml_alert_id, OLD.transaction_ids, OLD.narrative, OLD.created_by,
         OLD.submitted_by, OLD.submitted_at, OLD.created_at)
        OR NEW.status = 'draft') THEN
        RAISE EXCEPTION 'STR report % has been submitted and cannot change', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'str_reports_frozen_after_submission',
                  TABLE = 'str_reports';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER str_reports_frozen_after_submission BEFORE UPDATE ON str_reports
    FOR EACH ROW EXECUTE FUNCTION str_reports_frozen_after_submission();
CREATE TRIGGER str_reports_set_updated_at BEFORE UPDATE ON str_reports
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE str_reports IS
    'Suspicious transaction reports to the FIU, drafted and submitted by admins. Never shown to the user '
    'nor exported to them (tipping-off prohibition). Retention: 5 years after the customer relationship '
    'ends (hvitvaskingsloven § 30), also after erasure.';


CREATE TABLE screening_results (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- Set when the screening was of a payment (e.g. the recipient's name against sanctions lists).
    transaction_id      uuid        REFERENCES transactions (id) ON DELETE RESTRICT,
    -- Who screened, e.g. 'sumsub'.
    provider            text        NOT NULL,
    provider_reference  text,
    kind                text        NOT NULL,
    outcome             text        NOT NULL,
    match_details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    screened_at         timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT screening_results_provider_not_blank CHECK (length(btrim(provider)) > 0),
    CONSTRAINT screening_results_kind_known CHECK (kind IN ('pep', 'sanctions', 'adverse_media')),
    CONSTRAINT screening_results_outcome_known CHECK (outcome IN (
        'clear', 'possible_match', 'confirmed_match', 'false_positive')),
    CONSTRAINT screening_results_match_details_shape CHECK (jsonb_typeof(match_details) IN ('object', 'array'))
);

CREATE INDEX screening_results_user_idx ON screening_results (user_id, screened_at DESC, id DESC);
CREATE INDEX screening_results_transaction_idx ON screening_results (transaction_id)
    WHERE transaction_id IS NOT NULL;

COMMENT ON TABLE screening_results IS
    'PEP, sanctions and adverse-media screening outcomes for users and payments. Never shown to the user '
    'nor exported to them. Retention: 5 years after the customer relationship ends (hvitvaskingsloven § 30).';


CREATE TABLE data_access_requests (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- RESTRICT: the proof that an erasure was carried out must outlive the erasure.
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind                text        NOT NULL,
    status              text        NOT NULL DEFAULT 'received',
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- One month from receipt (GDPR art. 12(3)).
    due_at              timestamptz NOT NULL,
    completed_at        timestamptz,
    rejection_reason    text,
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT data_access_requests_kind_known CHECK (kind IN ('export', 'erasure')),
    CONSTRAINT data_access_requests_status_known CHECK (status IN ('received', 'processing', 'completed', 'rejected')),
    CONSTRAINT data_access_requests_due_after_creation CHECK (due_at > created_at),
    CONSTRAINT data_access_requests_completion_consistent CHECK (
        (status IN ('received', 'processing') AND completed_at IS NULL)
        OR (status = 'completed' AND completed_at IS NOT NULL)
        OR (status = 'rejected' AND completed_at IS NOT NULL AND rejection_reason IS NOT NULL))
);

-- At most one open request of each kind per user.
CREATE UNIQUE INDEX data_access_requests_open_key ON data_access_requests (user_id, kind)
    WHERE status IN ('received', 'processing');
CREATE INDEX data_access_requests_user_idx ON data_access_requests (user_id, created_at DESC, id DESC);
CREATE INDEX data_access_requests_open_due_idx ON data_access_requests (due_at)
    WHERE status IN ('received', 'processing');

CREATE TRIGGER data_access_requests_set_updated_at BEFORE UPDATE ON data_access_requests
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE data_access_requests IS
    'GDPR export (art. 15/20) and erasure (art. 17) requests and their outcome. Holds no personal data '
    'beyond the user id. Retention: 3 years after completion (evidence the request was honoured), then deleted.';


CREATE TABLE complaints (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    transaction_id      uuid        REFERENCES transactions (id) ON DELETE RESTRICT,
    category            text        NOT NULL,
    subject             text        NOT NULL,
    description         text        NOT NULL,
    status              text        NOT NULL DEFAULT 'received',
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- The answer is due within 15 business days of receipt (PSD2 art. 101(2)); the app computes
    -- it with the Norwegian holiday calendar and stores it here.
    due_at              timestamptz NOT NULL,
    -- Exceptionally, with a holding reply giving the reasons: at most 35 business days.
    extended_due_at     timestamptz,
    answered_at         timestamptz,
    response            text,
    closed_at           timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT complaints_category_known CHECK (category IN (
        'payment', 'fees', 'exchange_rate', 'account_access', 'privacy', 'service', 'other')),
    CONSTRAINT complaints_subject_length CHECK (length(btrim(subject)) BETWEEN 1 AND 200),
    CONSTRAINT complaints_description_length CHECK (length(btrim(description)) BETWEEN 1 AND 10000),
    CONSTRAINT complaints_status_known CHECK (status IN ('received', 'in_progress', 'answered', 'closed')),
    CONSTRAINT complaints_due_after_creation CHECK (due_at > created_at),
    CONSTRAINT complaints_extension_after_due CHECK (extended_due_at IS NULL OR extended_due_at > due_at),
    CONSTRAINT complaints_answered_has_response CHECK (
        status <> 'answered' OR (answered_at IS NOT NULL AND response IS NOT NULL)),
    CONSTRAINT complaints_closed_has_timestamp CHECK (status <> 'closed' OR closed_at IS NOT NULL)
);

CREATE INDEX complaints_user_idx ON complaints (user_id, created_at DESC, id DESC);
-- Deadline monitoring of unanswered complaints.
CREATE INDEX complaints_open_due_idx ON complaints (due_at) WHERE status IN ('received', 'in_progress');
CREATE INDEX complaints_transaction_idx ON complaints (transaction_id) WHERE transaction_id IS NOT NULL;

CREATE TRIGGER complaints_set_updated_at BEFORE UPDATE ON complaints
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE complaints IS
    'Customer complaints and Drop''s answers, with the statutory deadline. Retention: 5 years after the '
    'complaint is closed (may concern a payment record), also after erasure.';
