-- Rampart schema, version 7 (PostgreSQL): console sign-in sessions. Keep in step with
-- ../sqlite/0007_console.sql.

-- A session is found by the SHA-256 of its cookie, never the cookie itself, so a copy of
-- the database opens no session. `stage` 'mfa' is a password that passed and waits for its
-- MFA code, 'password' waits for a due password change; only 'active' sessions act.
CREATE TABLE console_sessions (
    token_hash  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    user_name   TEXT COLLATE "C" NOT NULL,
    stage       TEXT COLLATE "C" NOT NULL CHECK (stage IN ('mfa', 'password', 'active')),
    mfa         BIGINT  NOT NULL,
    csrf        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    idle_secs   BIGINT  NOT NULL
);

CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
