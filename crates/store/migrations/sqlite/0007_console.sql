-- Rampart schema, version 7 (SQLite): console sign-in sessions. Keep in step with
-- ../postgres/0007_console.sql.

-- A session is found by the SHA-256 of its cookie, never the cookie itself, so a copy of
-- the database opens no session. `stage` 'mfa' is a password that passed and waits for its
-- MFA code, 'password' waits for a due password change; only 'active' sessions act.
CREATE TABLE console_sessions (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (account_id),
    user_name   TEXT    NOT NULL,
    stage       TEXT    NOT NULL CHECK (stage IN ('mfa', 'password', 'active')),
    mfa         INTEGER NOT NULL,
    csrf        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    idle_secs   INTEGER NOT NULL
) STRICT;

CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
