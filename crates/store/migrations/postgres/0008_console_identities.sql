-- Rampart schema, version 8 (PostgreSQL): who a console session is (a RAM user, the
-- account's root identity, or a role assumed through SAML), and the root identity's console
-- credentials. Keep in step with ../sqlite/0008_console_identities.sql.

-- The root identity's password (argon2id PHC string, never the password) and its virtual
-- MFA device: one per account, outside RAM's device list, as Alibaba keeps it.
-- `mfa_last_step` is the last TOTP step accepted: a code at or before it is a replay.
CREATE TABLE root_logins (
    account_id        TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES accounts (account_id),
    password_hash     TEXT COLLATE "C",
    mfa_serial        TEXT COLLATE "C",
    -- AES-256-GCM under the master key, sealed to the serial number; never the plain seed.
    mfa_sealed_seed   BYTEA,
    mfa_activate_date BIGINT,
    mfa_last_step     BIGINT,
    last_login_date   BIGINT,
    update_date       BIGINT NOT NULL,
    CHECK ((mfa_serial IS NULL) = (mfa_sealed_seed IS NULL))
);

-- Sessions are recreated rather than altered: SQLite cannot change a CHECK constraint, and a
-- session is short-lived (upgrading signs everyone out once). `stage` 'bind' is a password
-- that passed for a user who must bind an MFA device first. `kind` says who the session is;
-- `user_name` is the RAM user's name, `root`, or a role session's name.
DROP TABLE console_sessions;
CREATE TABLE console_sessions (
    token_hash   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    user_name    TEXT COLLATE "C" NOT NULL,
    stage        TEXT COLLATE "C" NOT NULL CHECK (stage IN ('mfa', 'bind', 'password', 'active')),
    mfa          BIGINT  NOT NULL,
    csrf         TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen    BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    idle_secs    BIGINT  NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL CHECK (kind IN ('user', 'root', 'role')),
    role_id      TEXT COLLATE "C",
    role_name    TEXT COLLATE "C",
    provider_arn TEXT COLLATE "C"
);

CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
