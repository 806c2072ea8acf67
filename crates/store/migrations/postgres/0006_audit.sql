-- Rampart schema, version 6 (PostgreSQL): the audit trail. Keep in step with
-- ../sqlite/0006_audit.sql.

-- Events are written once and never updated. `body` is the event's JSON text, which the
-- chain hashes as stored; the other columns are copies of its fields for searching, and
-- verification checks them against it. No foreign keys: an event outlives what it names.
-- Every index here grows in insertion order (the id, times): an index on the random event
-- ids would dirty a random page per event, which is most of the write cost of the trail.
CREATE TABLE audit_events (
    id            BIGSERIAL PRIMARY KEY,
    event_id      TEXT COLLATE "C" NOT NULL,
    account_id    TEXT COLLATE "C" NOT NULL,
    event_time    BIGINT  NOT NULL,
    event_name    TEXT COLLATE "C" NOT NULL,
    event_rw      TEXT COLLATE "C" NOT NULL,
    service_name  TEXT COLLATE "C" NOT NULL,
    user_name     TEXT COLLATE "C" NOT NULL,
    access_key_id TEXT COLLATE "C" NOT NULL,
    source_ip     TEXT COLLATE "C" NOT NULL,
    error_code    TEXT COLLATE "C" NOT NULL,
    body          TEXT COLLATE "C" NOT NULL CHECK (body <> '')
);

CREATE INDEX audit_events_by_account_time ON audit_events (account_id, event_time, id);
CREATE INDEX audit_events_by_key ON audit_events (access_key_id, event_time);

-- `referencedResources`, one row per (type, name), for the ResourceName/ResourceType lookups.
CREATE TABLE audit_resources (
    event_pk      BIGINT  NOT NULL,
    account_id    TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_name TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (event_pk, resource_type, resource_name)
);

CREATE INDEX audit_resources_by_name ON audit_resources (account_id, resource_name);

-- Events not yet sealed into their account's chain. A change writes its event here in its
-- own transaction; sealing, later and in batches, takes the per-account chain lock only
-- briefly, so concurrent changes never queue on it.
CREATE TABLE audit_unsealed (
    event_pk BIGINT  NOT NULL PRIMARY KEY
);

-- The chain: link `seq` of an account seals one event (`event_id` names it even after the
-- event row is gone).
CREATE TABLE audit_chain (
    account_id TEXT COLLATE "C" NOT NULL,
    seq        BIGINT  NOT NULL,
    event_pk   BIGINT  NOT NULL UNIQUE,
    event_id   TEXT COLLATE "C" NOT NULL,
    event_time BIGINT  NOT NULL,
    prev_hash  TEXT COLLATE "C" NOT NULL,
    hash       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, seq)
);

-- Each account's last link, and the last link retention removed (where verification starts).
CREATE TABLE audit_heads (
    account_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    base_seq   BIGINT  NOT NULL,
    base_hash  TEXT COLLATE "C" NOT NULL,
    seq        BIGINT  NOT NULL,
    hash       TEXT COLLATE "C" NOT NULL
);

-- One row, locked by whoever seals, so sealers on several nodes take turns.
CREATE TABLE audit_sealer (
    id    BIGINT  NOT NULL PRIMARY KEY CHECK (id = 1),
    runs  BIGINT  NOT NULL
);

INSERT INTO audit_sealer (id, runs) VALUES (1, 0);
