-- Rampart schema, version 8 (SQLite): who a console session is (a RAM user, the account's
-- root identity, or a role assumed through SAML), and the root identity's console
-- credentials. Keep in step with ../postgres/0008_console_identities.sql.

-- The root identity's password (argon2id PHC string, never the password) and its virtual
-- MFA device: one per account, outside RAM's device list, as Alibaba keeps it.
-- `mfa_last_step` is the last TOTP step accepted: a code at or before it is a replay.
CREATE TABLE root_logins (
    account_id        TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (account_id),
    password_hash     TEXT,
    mfa_serial        TEXT,
    -- AES-256-GCM under the master key, sealed to the serial number; never the plain seed.
    mfa_sealed_seed   BLOB,
    mfa_activate_date INTEGER,
    mfa_last_step     INTEGER,
    last_login_date   INTEGER,
    update_date       INTEGER NOT NULL,
    CHECK ((mfa_serial IS NULL) = (mfa_sealed_seed IS NULL))
) STRICT;

-- `user_name` is the RAM user's name, `root`, or the role session's name.
ALTER TABLE console_sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'user'
    CHECK (kind IN ('user', 'root', 'role'));
ALTER TABLE console_sessions ADD COLUMN role_id TEXT;
ALTER TABLE console_sessions ADD COLUMN role_name TEXT;
ALTER TABLE console_sessions ADD COLUMN provider_arn TEXT;
