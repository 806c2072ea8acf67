-- Rampart schema, version 4 (SQLite): password history and used TOTP time steps. Keep in
-- step with ../postgres/0004_people_history.sql.

-- Every password a user's login profile was given (CreateLoginProfile, UpdateLoginProfile
-- with a password, ChangePassword), newest last, for PasswordReusePrevention. Kept when
-- the login profile is deleted (re-creating it must not reset the history); removed with
-- the user. The store keeps the newest 24 per user (RAM's largest reuse window).
CREATE TABLE password_history (
    history_id    INTEGER NOT NULL PRIMARY KEY,
    account_id    TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    -- A PHC string (argon2id) computed by the API layer; never a plain password.
    password_hash TEXT    NOT NULL,
    set_date      INTEGER NOT NULL,
    CONSTRAINT password_history_user_fk FOREIGN KEY (account_id, user_id)
        REFERENCES users (account_id, user_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX password_history_by_user ON password_history (user_id, history_id);

-- TOTP time steps (Unix seconds / 30) whose code a device has accepted: each code works at
-- most once. The primary key is the replay check. Rows go with their device.
CREATE TABLE totp_uses (
    account_id      TEXT    NOT NULL,
    device_name_key TEXT    NOT NULL,
    step            INTEGER NOT NULL,
    PRIMARY KEY (account_id, device_name_key, step),
    CONSTRAINT totp_uses_device_fk FOREIGN KEY (account_id, device_name_key)
        REFERENCES mfa_devices (account_id, device_name_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
