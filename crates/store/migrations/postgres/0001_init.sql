-- Rampart schema, version 1 (PostgreSQL). Keep in step with ../sqlite/0001_init.sql: same
-- tables, columns, keys and constraints; only the types differ. Applied migrations are
-- never edited (their checksums are verified on open): change the schema with a new file.
--
-- Times are Unix milliseconds, UTC. Text compares byte-wise (COLLATE "C", SQLite's BINARY),
-- so ORDER BY and markers agree on both engines whatever the database's locale.

CREATE TABLE accounts (
    account_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    create_date BIGINT           NOT NULL
);

CREATE TABLE users (
    user_id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    user_name       TEXT COLLATE "C" NOT NULL,
    -- user_name with ASCII letters lower-cased (computed by the store): names are unique,
    -- looked up and ordered case-insensitively.
    user_name_key   TEXT COLLATE "C" NOT NULL,
    display_name    TEXT             NOT NULL,
    email           TEXT             NOT NULL,
    mobile_phone    TEXT             NOT NULL,
    comments        TEXT             NOT NULL,
    create_date     BIGINT           NOT NULL,
    update_date     BIGINT           NOT NULL,
    last_login_date BIGINT,
    CONSTRAINT users_name_unique UNIQUE (account_id, user_name_key),
    -- Target of the composite foreign key below: a key's user is in the key's account.
    CONSTRAINT users_account_user_unique UNIQUE (account_id, user_id)
);

CREATE TABLE access_keys (
    access_key_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    -- NULL: the key of the account's root identity (the foreign key is then not checked).
    user_id       TEXT COLLATE "C",
    status        TEXT             NOT NULL CHECK (status IN ('Active', 'Inactive')),
    create_date   BIGINT           NOT NULL,
    -- AES-256-GCM, sealed to access_key_id; never the plain secret.
    sealed_secret BYTEA            NOT NULL,
    CONSTRAINT access_keys_user_fk FOREIGN KEY (account_id, user_id)
        REFERENCES users (account_id, user_id)
);

CREATE INDEX access_keys_by_owner ON access_keys (account_id, user_id);

CREATE TABLE signature_nonces (
    -- Permanent or STS AccessKeyId; not a foreign key, STS keys have no row.
    access_key_id TEXT COLLATE "C" NOT NULL,
    -- Hex SHA-256 of the client's nonce: fixed size whatever the client sends.
    nonce_hash    TEXT COLLATE "C" NOT NULL,
    expires_at    BIGINT           NOT NULL,
    PRIMARY KEY (access_key_id, nonce_hash)
);

CREATE INDEX signature_nonces_by_expiry ON signature_nonces (expires_at);
