-- Rampart schema, version 6 (SQLite): the audit trail. Keep in step with
-- ../postgres/0006_audit.sql.

-- Events are written once and never updated. `body` is the event's JSON text, which the
-- chain hashes as stored; the other columns are copies of its fields for searching, and
-- verification checks them against it. No foreign keys: an event outlives what it names.
-- Every index here grows in insertion order (the id, times): an index on the random event
-- ids would dirty a random page per event, which is most of the write cost of the trail.
CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY,
    event_id      TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    event_time    INTEGER NOT NULL,
    event_name    TEXT    NOT NULL,
    event_rw      TEXT    NOT NULL,
    service_name  TEXT    NOT NULL,
    user_name     TEXT    NOT NULL,
    access_key_id TEXT    NOT NULL,
    source_ip     TEXT    NOT NULL,
    error_code    TEXT    NOT NULL,
    body          TEXT    NOT NULL CHECK (body <> '')
) STRICT;

CREATE INDEX audit_events_by_account_time ON audit_events (account_id, event_time, id);
CREATE INDEX audit_events_by_key ON audit_events (access_key_id, event_time);

-- `referencedResources`, one row per (type, name), for the ResourceName/ResourceType lookups.
CREATE TABLE audit_resources (
    event_pk      INTEGER NOT NULL,
    account_id    TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_name TEXT    NOT NULL,
    PRIMARY KEY (event_pk, resource_type, resource_name)
) STRICT;

CREATE INDEX audit_resources_by_name ON audit_resources (account_id, resource_name);

-- Events not yet sealed into their account's chain. A change writes its event here in its
-- own transaction; sealing, later and in batches, takes the per-account chain lock only
-- briefly, so concurrent changes never queue on it.
CREATE TABLE audit_unsealed (
    event_pk INTEGER NOT NULL PRIMARY KEY
) STRICT;

-- The chain: link `seq` of an account seals one event (`event_id` names it even after the
-- event row is gone).
CREATE TABLE audit_chain (
    account_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    event_pk   INTEGER NOT NULL UNIQUE,
    event_id   TEXT    NOT NULL,
    event_time INTEGER NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    PRIMARY KEY (account_id, seq)
) STRICT;

-- Each account's last link, and the last link retention removed (where verification starts).
CREATE TABLE audit_heads (
    account_id TEXT    NOT NULL PRIMARY KEY,
    base_seq   INTEGER NOT NULL,
    base_hash  TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    hash       TEXT    NOT NULL
) STRICT;

-- One row, locked by whoever seals, so sealers on several nodes take turns.
CREATE TABLE audit_sealer (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    runs  INTEGER NOT NULL
) STRICT;

INSERT INTO audit_sealer (id, runs) VALUES (1, 0);
