-- Rampart schema, version 2 (PostgreSQL): groups, roles, policies, attachments. Keep in
-- step with ../sqlite/0002_iam.sql.

-- Every change that can alter an account's effective permissions increments this in the
-- same transaction; caches of compiled policies are valid only for the epoch they read.
ALTER TABLE accounts ADD COLUMN authz_epoch BIGINT NOT NULL DEFAULT 0;

CREATE TABLE groups (
    group_id       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id     TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    group_name     TEXT COLLATE "C" NOT NULL,
    group_name_key TEXT COLLATE "C" NOT NULL,
    comments       TEXT NOT NULL,
    create_date    BIGINT NOT NULL,
    update_date    BIGINT NOT NULL,
    CONSTRAINT groups_name_unique UNIQUE (account_id, group_name_key),
    CONSTRAINT groups_account_group_unique UNIQUE (account_id, group_id)
);

-- Composite keys: a membership's group and user are both in its account.
CREATE TABLE group_members (
    account_id TEXT COLLATE "C" NOT NULL,
    group_id   TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    join_date  BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    CONSTRAINT group_members_group_fk FOREIGN KEY (account_id, group_id)
        REFERENCES groups (account_id, group_id),
    CONSTRAINT group_members_user_fk FOREIGN KEY (account_id, user_id)
        REFERENCES users (account_id, user_id)
);

CREATE INDEX group_members_by_user ON group_members (account_id, user_id);

CREATE TABLE roles (
    role_id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id           TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    role_name            TEXT COLLATE "C" NOT NULL,
    role_name_key        TEXT COLLATE "C" NOT NULL,
    description          TEXT NOT NULL,
    trust_policy         TEXT NOT NULL,
    -- 1 or 0.
    allow_console_login  BIGINT NOT NULL,
    max_session_duration BIGINT NOT NULL,
    create_date          BIGINT NOT NULL,
    update_date          BIGINT NOT NULL,
    CONSTRAINT roles_name_unique UNIQUE (account_id, role_name_key),
    CONSTRAINT roles_account_role_unique UNIQUE (account_id, role_id)
);

-- System policies have owner '' (they belong to no account); custom policies their account.
CREATE TABLE policies (
    owner           TEXT COLLATE "C" NOT NULL,
    policy_type     TEXT COLLATE "C" NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    policy_name     TEXT COLLATE "C" NOT NULL,
    policy_name_key TEXT COLLATE "C" NOT NULL,
    description     TEXT NOT NULL,
    -- The number n of the default version `vn`.
    default_version BIGINT NOT NULL,
    -- The number of the next version id: ids are never reused.
    next_version    BIGINT NOT NULL,
    create_date     BIGINT NOT NULL,
    update_date     BIGINT NOT NULL,
    PRIMARY KEY (owner, policy_type, policy_name_key),
    CONSTRAINT policies_owner_matches_type CHECK ((policy_type = 'System') = (owner = ''))
);

CREATE TABLE policy_versions (
    owner           TEXT COLLATE "C" NOT NULL,
    policy_type     TEXT COLLATE "C" NOT NULL,
    policy_name_key TEXT COLLATE "C" NOT NULL,
    version_number  BIGINT NOT NULL,
    document        TEXT NOT NULL,
    create_date     BIGINT NOT NULL,
    PRIMARY KEY (owner, policy_type, policy_name_key, version_number),
    CONSTRAINT policy_versions_policy_fk FOREIGN KEY (owner, policy_type, policy_name_key)
        REFERENCES policies (owner, policy_type, policy_name_key) ON DELETE CASCADE
);

-- principal_id is a user, group or role id of account_id (checked by the store, which also
-- refuses to delete a principal that has attachments). A custom policy can only be
-- attached in its own account: policy_owner is '' (system) or account_id.
CREATE TABLE policy_attachments (
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts (account_id),
    principal_type  TEXT COLLATE "C" NOT NULL CHECK (principal_type IN ('User', 'Group', 'Role')),
    principal_id    TEXT COLLATE "C" NOT NULL,
    policy_owner    TEXT COLLATE "C" NOT NULL,
    policy_type     TEXT COLLATE "C" NOT NULL,
    policy_name_key TEXT COLLATE "C" NOT NULL,
    -- '' is the account scope, else a resource group id.
    scope           TEXT COLLATE "C" NOT NULL,
    attach_date     BIGINT NOT NULL,
    PRIMARY KEY (account_id, principal_type, principal_id, policy_owner, policy_type,
                 policy_name_key, scope),
    CONSTRAINT policy_attachments_policy_fk FOREIGN KEY (policy_owner, policy_type, policy_name_key)
        REFERENCES policies (owner, policy_type, policy_name_key),
    CONSTRAINT policy_attachments_same_account CHECK (policy_owner = '' OR policy_owner = account_id)
);

CREATE INDEX policy_attachments_by_policy
    ON policy_attachments (policy_owner, policy_type, policy_name_key);
