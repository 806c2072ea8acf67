-- Rampart schema, version 5 (SQLite): OIDC and SAML identity providers (IMS). Keep in step
-- with ../postgres/0005_federation.sql.

-- Fingerprints and client ids are comma-joined lists in the row: their rules exclude commas,
-- they are only ever read and written with the provider, and a change to them is one row
-- update under the row's lock, which is what keeps their limits exact under concurrency.
CREATE TABLE oidc_providers (
    account_id          TEXT NOT NULL REFERENCES accounts (account_id),
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,
    issuer_url          TEXT NOT NULL,
    fingerprints        TEXT NOT NULL,
    client_ids          TEXT NOT NULL,
    issuance_limit_time INTEGER NOT NULL,
    description         TEXT NOT NULL,
    create_date         INTEGER NOT NULL,
    update_date         INTEGER NOT NULL,
    PRIMARY KEY (account_id, name_key),
    CONSTRAINT oidc_providers_issuer_unique UNIQUE (account_id, issuer_url)
) STRICT;

CREATE TABLE saml_providers (
    account_id         TEXT NOT NULL REFERENCES accounts (account_id),
    name               TEXT NOT NULL,
    name_key           TEXT NOT NULL,
    description        TEXT NOT NULL,
    authn_sign_algo    TEXT NOT NULL CHECK (authn_sign_algo IN ('rsa-sha1', 'rsa-sha256')),
    -- The Base64 document as uploaded, and the entity ID parsed from it on upload.
    encoded_metadata   TEXT NOT NULL,
    metadata_entity_id TEXT NOT NULL,
    create_date        INTEGER NOT NULL,
    update_date        INTEGER NOT NULL,
    PRIMARY KEY (account_id, name_key)
) STRICT;
