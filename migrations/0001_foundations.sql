-- 0001 — helpers every later migration uses.
--
-- Conventions for the whole schema:
--   * primary keys are uuid (gen_random_uuid(), built into PostgreSQL 13+), except where an
--     order of insertion matters more than an opaque id (outbox);
--   * every point in time is timestamptz;
--   * money is numeric(20,4), exchange rates numeric(20,10); never float;
--   * every CHECK has a name of the form <table>_<what it guarantees>, so the application can
--     map a violation to an error code from `constraint()` without parsing messages;
--   * foreign keys say ON DELETE on purpose: records the law makes us keep (transactions, AML,
--     audit, complaints, data-subject requests) RESTRICT; data that only means something for
--     its owner CASCADE. Users are anonymised, never deleted, so in practice CASCADE only ever
--     fires in tests and manual clean-up.
--   * each table's COMMENT states its retention rule. The two legal anchors:
--       - AML and transaction records: 5 years after the customer relationship ends or the
--         transaction was carried out (hvitvaskingsloven § 30, bokføringsloven § 13);
--       - IP addresses: pseudonymised after 3 months (DPIA), using pseudonymise_ip() below.
--
-- Table deliberately NOT created: rate_limits. Rate-limit windows (auth 10/60 s per IP,
-- transactions 10/60 s per IP and 3 per user, exchange rates 120/60 s) live in DynamoDB with
-- a TTL: they are high-churn counters that expire in a minute and are nobody's record, and
-- counting them in PostgreSQL would spend the Lambda connection budget on every request. No
-- query in the system needs them joined with relational data, so the table earns no use.

-- Stamps updated_at on every UPDATE, unless the statement set it itself (lets a caller use
-- its own clock, e.g. a test clock, while nobody can forget to move it).
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION set_updated_at() IS
    'BEFORE UPDATE trigger: sets updated_at to now() unless the UPDATE changed it explicitly.';

-- The one pseudonymisation of an IP address the system uses: IPv4 truncated to its /24,
-- IPv6 to its /48. Used by the retention job on sessions and audit_log after 3 months, and
-- by audit_log's append-only trigger to recognise the only UPDATE it allows.
CREATE FUNCTION pseudonymise_ip(ip inet) RETURNS inet
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT network(set_masklen(ip, CASE family(ip) WHEN 4 THEN 24 ELSE 48 END))::inet
$$;

COMMENT ON FUNCTION pseudonymise_ip(inet) IS
    'IPv4 -> its /24 network, IPv6 -> its /48 network. Applied to stored IPs older than 3 months (DPIA).';
