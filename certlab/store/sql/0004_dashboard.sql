-- Sign-in state of dashboard users: one-time passwords that must be changed, and a short lock-out
-- after repeated failed sign-ins.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TIMESTAMP;
ALTER TABLE users ADD COLUMN last_sign_in TIMESTAMP;
