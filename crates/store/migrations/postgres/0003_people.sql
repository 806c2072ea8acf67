-- Rampart schema, version 3 (PostgreSQL): login profiles, account settings and alias,
-- virtual MFA devices, resource tags. Keep in step with ../sqlite/0003_people.sql.

CREATE TABLE login_profiles (
    account_id              TEXT COLLATE "C" NOT NULL,
    user_id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    -- A PHC string (argon2id) computed by the API layer; never a plain password.
    password_hash           TEXT NOT NULL,
    password_reset_required BIGINT NOT NULL,
    mfa_bind_required       BIGINT NOT NULL,
    create_date             BIGINT NOT NULL,
    update_date             BIGINT NOT NULL,
    CONSTRAINT login_profiles_user_fk FOREIGN KEY (account_id, user_id)
        REFERENCES users (account_id, user_id)
);

-- Per-account settings (password policy, security preference) as JSON documents owned by
-- the API layer, which supplies RAM's defaults for settings never written.
CREATE TABLE account_settings (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    name       TEXT COLLATE "C" NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);

-- Unique across the installation (sign-in names are user@alias); NULL when unset.
ALTER TABLE accounts ADD COLUMN alias TEXT COLLATE "C";
CREATE UNIQUE INDEX accounts_alias_unique ON accounts (alias);

CREATE TABLE mfa_devices (
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    device_name     TEXT COLLATE "C" NOT NULL,
    device_name_key TEXT COLLATE "C" NOT NULL,
    -- AES-256-GCM under the master key, sealed to the serial number; never the plain seed.
    sealed_seed     BYTEA NOT NULL,
    -- The user it is bound to, if any: one device per user, one user per device.
    user_id         TEXT COLLATE "C",
    activate_date   BIGINT,
    create_date     BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_name_key),
    CONSTRAINT mfa_devices_user_unique UNIQUE (user_id),
    CONSTRAINT mfa_devices_user_fk FOREIGN KEY (account_id, user_id)
        REFERENCES users (account_id, user_id)
);

CREATE TABLE resource_tags (
    account_id        TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    resource_type     TEXT COLLATE "C" NOT NULL CHECK (resource_type IN ('role', 'policy')),
    resource_name_key TEXT COLLATE "C" NOT NULL,
    resource_name     TEXT COLLATE "C" NOT NULL,
    tag_key           TEXT COLLATE "C" NOT NULL,
    tag_value         TEXT NOT NULL,
    PRIMARY KEY (account_id, resource_type, resource_name_key, tag_key)
);
