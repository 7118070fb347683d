import Foundation
import Logging
import SQLKit

/// The coordinator's schema, as numbered migrations applied in order and recorded in `schema_migrations`.
///
/// A migration is never edited once released; a change is a new migration. All times are BIGINT
/// milliseconds since the Unix epoch (UTC), identical on both engines so audit hashes are reproducible.
public enum Migrations {
    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: @Sendable (StoreKind) -> [String]
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "accounts, tokens, grants, audit log") { kind in
            let serial = kind == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
            var statements = [
                """
                CREATE TABLE customers (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    contact_email TEXT NOT NULL,
                    region TEXT,
                    webhook_url TEXT NOT NULL,
                    webhook_mode TEXT NOT NULL,
                    webhook_secret_sealed TEXT NOT NULL,
                    metadata_redactions TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    closed_at BIGINT,
                    purge_after BIGINT
                )
                """,
                "CREATE INDEX customers_purge ON customers (purge_after)",
                """
                CREATE TABLE customer_domains (
                    domain TEXT PRIMARY KEY,
                    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                    verification_token TEXT NOT NULL,
                    added_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX customer_domains_customer ON customer_domains (customer_id)",
                """
                CREATE TABLE region_changes (
                    id \(serial),
                    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                    from_region TEXT,
                    to_region TEXT,
                    at BIGINT NOT NULL,
                    actor_id TEXT NOT NULL,
                    actor_role TEXT NOT NULL,
                    reason TEXT
                )
                """,
                """
                CREATE TABLE tokens (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    customer_id TEXT REFERENCES customers (id) ON DELETE CASCADE,
                    secret_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL,
                    expires_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                """
                CREATE TABLE access_grants (
                    id TEXT PRIMARY KEY,
                    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                    role TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX access_grants_customer ON access_grants (customer_id)",
                """
                CREATE TABLE audit_log (
                    sequence BIGINT PRIMARY KEY,
                    at_ms BIGINT NOT NULL,
                    actor_id TEXT NOT NULL,
                    actor_role TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    source_ip TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                )
                """,
            ]
            // The audit log is append-only in the database itself, not only in the code that writes it.
            switch kind {
            case .postgres:
                statements += [
                    """
                    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$
                    """,
                    """
                    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
                    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
                    """,
                ]
            case .sqlite:
                statements += [
                    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
                    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
                ]
            }
            return statements
        },
        Migration(version: 2, name: "config versions, bundles, nodes") { _ in
            [
                """
                CREATE TABLE config_versions (
                    version BIGINT PRIMARY KEY,
                    digest TEXT NOT NULL,
                    customers BIGINT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE config_bundles (
                    region TEXT PRIMARY KEY,
                    version BIGINT NOT NULL,
                    signed TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE nodes (
                    id TEXT PRIMARY KEY,
                    region TEXT NOT NULL,
                    control_url TEXT NOT NULL,
                    applied_version BIGINT,
                    last_result TEXT,
                    last_error TEXT,
                    last_result_at BIGINT,
                    first_seen_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 3, name: "legal requests") { _ in
            [
                """
                CREATE TABLE legal_requests (
                    id TEXT PRIMARY KEY,
                    received_on TEXT NOT NULL,
                    authority TEXT NOT NULL,
                    country TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    accounts_affected BIGINT NOT NULL,
                    outcome TEXT NOT NULL,
                    gag_until TEXT,
                    notes TEXT,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX legal_requests_received ON legal_requests (received_on)",
            ]
        },
        Migration(version: 4, name: "sub-processors, objections, DPAs, notifications, canaries, transparency reports") { _ in
            [
                // The registry: the current entry as JSON, and every version of it with who changed it and when.
                "CREATE TABLE subprocessors (id TEXT PRIMARY KEY, entry TEXT NOT NULL, version BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
                """
                CREATE TABLE subprocessor_versions (
                    subprocessor_id TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    change TEXT NOT NULL,
                    entry TEXT NOT NULL,
                    changed_at BIGINT NOT NULL,
                    changed_by TEXT NOT NULL,
                    PRIMARY KEY (subprocessor_id, version)
                )
                """,
                """
                CREATE TABLE objections (
                    id TEXT PRIMARY KEY,
                    customer_id TEXT NOT NULL,
                    subprocessor_id TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL,
                    withdrawn_at BIGINT
                )
                """,
                "CREATE INDEX objections_customer ON objections (customer_id)",
                """
                CREATE TABLE dpas (
                    id TEXT PRIMARY KEY,
                    customer_id TEXT NOT NULL,
                    dpa_version TEXT NOT NULL,
                    signed_on TEXT NOT NULL,
                    signatory TEXT NOT NULL,
                    document_sha256 TEXT NOT NULL,
                    annex TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL
                )
                """,
                "CREATE INDEX dpas_customer ON dpas (customer_id, created_at)",
                // The outbox: e-mails and webhook events to customers, sent and retried by the outbox job.
                """
                CREATE TABLE notifications (
                    id TEXT PRIMARY KEY,
                    customer_id TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    body TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempts BIGINT NOT NULL,
                    next_attempt_at BIGINT NOT NULL,
                    last_error TEXT,
                    created_at BIGINT NOT NULL,
                    sent_at BIGINT
                )
                """,
                "CREATE INDEX notifications_due ON notifications (status, next_attempt_at)",
                """
                CREATE TABLE canaries (
                    sequence BIGINT PRIMARY KEY,
                    statement TEXT NOT NULL,
                    signature TEXT NOT NULL,
                    issued_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    issued_by TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE transparency_reports (
                    period TEXT PRIMARY KEY,
                    report TEXT NOT NULL,
                    signature TEXT NOT NULL,
                    frozen_at BIGINT NOT NULL,
                    frozen_by TEXT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 5, name: "data-subject requests and their identity checks") { _ in
            [
                """
                CREATE TABLE gdpr_requests (
                    id TEXT PRIMARY KEY,
                    type TEXT NOT NULL,
                    regulation TEXT NOT NULL,
                    subject_kind TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    state TEXT NOT NULL,
                    received_at BIGINT NOT NULL,
                    due_at BIGINT NOT NULL,
                    extended BIGINT NOT NULL,
                    extension_reason TEXT,
                    verification_method TEXT,
                    state_reason TEXT,
                    notes TEXT,
                    created_by TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    closed_at BIGINT
                )
                """,
                "CREATE INDEX gdpr_requests_due ON gdpr_requests (state, due_at)",
                // The code sent to the subject, as a hash; attempts are counted here.
                """
                CREATE TABLE gdpr_verifications (
                    request_id TEXT PRIMARY KEY,
                    code_hash TEXT NOT NULL,
                    sent_to TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    attempts BIGINT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                // Notices to people who are not customers (a data subject's code), and bodies sealed at rest.
                "ALTER TABLE notifications ADD COLUMN recipient TEXT",
                "ALTER TABLE notifications ADD COLUMN body_sealed BIGINT NOT NULL DEFAULT 0",
            ]
        },
        Migration(version: 6, name: "data-subject directives: each place's answer; accounts under legal hold") { _ in
            [
                // One row per ticket and place (a node, or `coordinator`): its receipt once answered, else the
                // attempts so far. An access receipt's data is sealed, as it is the subject's personal data.
                """
                CREATE TABLE gdpr_answers (
                    request_id TEXT NOT NULL REFERENCES gdpr_requests (id),
                    place TEXT NOT NULL,
                    region TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    last_error TEXT,
                    classes TEXT,
                    data_sealed TEXT,
                    answered_at BIGINT,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (request_id, place)
                )
                """,
                "ALTER TABLE legal_requests ADD COLUMN customer_ids TEXT",
            ]
        },
        Migration(version: 7, name: "node enrollment: join tokens, each node's key and certificate, revocation") { _ in
            [
                // `enrolled` (a join token is out), `active` (joined: it has a certificate), `revoked`; rows from
                // before enrollment (nodes that registered with the shared token) are `registered`.
                "ALTER TABLE nodes ADD COLUMN state TEXT NOT NULL DEFAULT 'registered'",
                "ALTER TABLE nodes ADD COLUMN public_key TEXT",
                "ALTER TABLE nodes ADD COLUMN certificate_serial TEXT",
                "ALTER TABLE nodes ADD COLUMN previous_certificate_serial TEXT",
                "ALTER TABLE nodes ADD COLUMN certificate_expires_at BIGINT",
                "ALTER TABLE nodes ADD COLUMN enrolled_at BIGINT",
                "ALTER TABLE nodes ADD COLUMN revoked_at BIGINT",
                // A join token is used once, before it expires; only its hash is kept.
                """
                CREATE TABLE node_join_tokens (
                    token_hash TEXT PRIMARY KEY,
                    node_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT
                )
                """,
            ]
        },
        Migration(version: 8, name: "what nodes sign: each receipt's signature and signer, each node's last report") { _ in
            [
                // The receipt as the node signed it (NodeSigned JSON: statement, signature, certificate), no personal
                // data; the records of an access answer stay sealed in data_sealed.
                "ALTER TABLE gdpr_answers ADD COLUMN receipt_signed TEXT",
                // Who signed: the certificate's identity URI and serial.
                "ALTER TABLE gdpr_answers ADD COLUMN signed_by TEXT",
                "ALTER TABLE nodes ADD COLUMN last_report_signed TEXT",
            ]
        },
        Migration(version: 9, name: "domain ownership proofs: only verified domains are routed") { _ in
            [
                // Domains routed before proofs were required stay routed, marked `migration`, and are re-checked
                // like proved ones: a missing record starts the grace period, then suspension.
                "ALTER TABLE customer_domains ADD COLUMN state TEXT NOT NULL DEFAULT 'verified'",
                "ALTER TABLE customer_domains ADD COLUMN verified_at BIGINT",
                "ALTER TABLE customer_domains ADD COLUMN verified_by TEXT",
                "ALTER TABLE customer_domains ADD COLUMN checked_at BIGINT",
                "ALTER TABLE customer_domains ADD COLUMN failing_since BIGINT",
                "UPDATE customer_domains SET verified_by = 'migration', verified_at = added_at",
            ]
        },
        Migration(version: 10, name: "webhook secret rotation: the previous secret and the end of its overlap") { _ in
            [
                "ALTER TABLE customers ADD COLUMN previous_webhook_secret_sealed TEXT",
                "ALTER TABLE customers ADD COLUMN previous_secret_expires_at BIGINT",
            ]
        },
        Migration(version: 11, name: "filtering policy per customer: spam, viruses, DMARC, scanner failures") { _ in
            // JSON of the FilteringPolicy; NULL is the standard policy.
            ["ALTER TABLE customers ADD COLUMN filtering TEXT"]
        },
        Migration(version: 12, name: "POST format per customer, and HTTP Basic credentials for its webhook, sealed") { _ in
            // post_format NULL is CloudMailin's JSON.
            [
                "ALTER TABLE customers ADD COLUMN post_format TEXT",
                "ALTER TABLE customers ADD COLUMN webhook_credentials_sealed TEXT",
            ]
        },
        Migration(version: 13, name: "the account's people: users, invitations, recovery codes and dashboard sessions") { _ in
            [
                """
                CREATE TABLE account_users (
                    id TEXT PRIMARY KEY,
                    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                    email TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    password_hash TEXT,
                    totp_secret_sealed TEXT,
                    totp_last_step BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX account_users_customer ON account_users (customer_id)",
                """
                CREATE TABLE account_recovery_codes (
                    user_id TEXT NOT NULL REFERENCES account_users (id) ON DELETE CASCADE,
                    code_hash TEXT NOT NULL,
                    used_at BIGINT,
                    PRIMARY KEY (user_id, code_hash)
                )
                """,
                """
                CREATE TABLE account_invitations (
                    token_hash TEXT PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                    email TEXT NOT NULL,
                    role TEXT NOT NULL,
                    invited_by TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    accepted_at BIGINT
                )
                """,
                "CREATE INDEX account_invitations_customer ON account_invitations (customer_id)",
                // A session is found by the SHA-256 of its cookie; `second_factor_due` marks one past the password
                // but not yet the code. The notice is the next page's message, sealed (it may hold a new secret).
                """
                CREATE TABLE account_sessions (
                    id_hash TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES account_users (id) ON DELETE CASCADE,
                    customer_id TEXT NOT NULL,
                    csrf TEXT NOT NULL,
                    second_factor_due INTEGER NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL,
                    notice_sealed TEXT
                )
                """,
                "CREATE INDEX account_sessions_user ON account_sessions (user_id)",
            ]
        },
        Migration(version: 14, name: "events URL per customer: delivery and domain events") { _ in
            ["ALTER TABLE customers ADD COLUMN events_url TEXT"]
        },
        Migration(version: 15, name: "the OpenID Connect subject a user signs in as") { _ in
            // "<issuer> <sub>", set at the first sign-in through the provider.
            ["ALTER TABLE account_users ADD COLUMN oidc_subject TEXT", "CREATE UNIQUE INDEX account_users_oidc ON account_users (oidc_subject)"]
        },
        Migration(version: 16, name: "replicas: the leader's lease, and work items claimed by one replica at a time") { _ in
            [
                // One row per singleton role; the holder renews `expires_at` (the database's clock, ms) or loses it.
                """
                CREATE TABLE leadership (
                    name TEXT PRIMARY KEY,
                    holder TEXT NOT NULL,
                    term BIGINT NOT NULL,
                    acquired_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """,
                // Each replica's last sign of life (the database's clock, ms): a claim by a replica gone silent is void.
                "CREATE TABLE coordinator_replicas (name TEXT PRIMARY KEY, seen_at BIGINT NOT NULL)",
                "ALTER TABLE notifications ADD COLUMN claimed_by TEXT",
                "ALTER TABLE notifications ADD COLUMN claimed_until BIGINT",
                "ALTER TABLE gdpr_requests ADD COLUMN claimed_by TEXT",
                "ALTER TABLE gdpr_requests ADD COLUMN claimed_until BIGINT",
            ]
        },
        Migration(version: 17, name: "config deltas: each region's changes from one version to the next") { _ in
            [
                // `signed` is the signed delta (its secrets sealed to the region), sealed with the master key as
                // config_bundles' snapshots are; `bytes` is the signed delta's length, to weigh a chain against the
                // snapshot.
                """
                CREATE TABLE config_deltas (
                    region TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    base_version BIGINT NOT NULL,
                    bytes BIGINT NOT NULL,
                    signed TEXT NOT NULL,
                    PRIMARY KEY (region, version)
                )
                """,
                "ALTER TABLE config_bundles ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0",
            ]
        },
    ]

    /// Gives the role the coordinator runs as what it needs and no more (PostgreSQL): reading and writing every
    /// table, but only reading and appending to `audit_log`, and no ownership, so it can neither change nor delete
    /// an entry nor drop the append-only trigger. Run as the owner role, after the migrations.
    public static func grant(serviceRole role: String, on store: any SQLStore) async throws {
        guard store.kind == .postgres else {
            throw CoordinatorError(.settingInvalid, "--service-role is for PostgreSQL; SQLite has no roles")
        }
        guard role.range(of: #"^[a-z_][a-z0-9_]{0,62}$"#, options: .regularExpression) != nil else {
            throw CoordinatorError(.settingInvalid, "--service-role \(role): expected a PostgreSQL role name (lower-case letters, digits, _)")
        }
        try await store.transaction { db in
            for statement in [
                "GRANT USAGE ON SCHEMA public TO \(role)",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(role)",
                "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM \(role)",
                "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO \(role)",
            ] {
                try await db.raw(SQLQueryString(statement)).run()
            }
        }
    }

    /// The newest schema version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Applies every migration not yet applied; returns the versions applied now. Safe to run from several
    /// coordinator replicas at once: on PostgreSQL an advisory lock lets one apply while the others wait.
    @discardableResult
    public static func run(on store: any SQLStore, logger: Logger) async throws -> [Int] {
        try await store.transaction { db in
            if store.kind == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(7291001)").run()
            }
            // A service role without CREATE on the schema may run this once the owner has migrated: then the table
            // is there and nothing is created.
            let exists =
                store.kind == .postgres
                ? try await db.raw("SELECT to_regclass('schema_migrations') IS NOT NULL AS present").first()?.decode(column: "present", as: Bool.self) ?? false
                : false
            if !exists {
                try await db.raw(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                ).run()
            }
            let applied = Set(try await db.raw("SELECT version FROM schema_migrations").all().map {
                try $0.decode(column: "version", as: Int.self)
            })
            if let newest = applied.max(), newest > latestVersion {
                throw CoordinatorError(
                    .schemaNewer, "the database is at schema version \(newest) but this meridian knows only up to \(latestVersion); upgrade meridian")
            }
            var now: [Int] = []
            for migration in all where !applied.contains(migration.version) {
                logger.info("applying schema migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                for statement in migration.statements(store.kind) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Timestamp.now()))"
                ).run()
                now.append(migration.version)
            }
            return now
        }
    }
}
