-- Rampart schema, version 9 (SQLite): what IMS 2019-08-15 adds to login profiles. Keep in
-- step with ../postgres/0009_ims_people.sql.

-- `Status`: 0 is `Inactive`, and console sign-in refuses the user.
ALTER TABLE login_profiles ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
-- When an administrator set the current password (or re-enabled console logon): an initial
-- password until the user changes it (`PasswordStatus`). NULL: the user chose it.
ALTER TABLE login_profiles ADD COLUMN initial_since INTEGER;
