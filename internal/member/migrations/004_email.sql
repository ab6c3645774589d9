-- Whether a member's address was confirmed, and the language of its mail.
ALTER TABLE members ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN lang TEXT NOT NULL DEFAULT 'zh-CN';

-- Single-use links mailed to a member: verify an address (the current one,
-- or a new one that replaces it once verified) or reset the password. Only
-- the token's SHA-256 is kept.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES members (id),
    purpose    TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX email_tokens_by_member ON email_tokens (member_id, purpose);

-- Requests that send mail (a verification sent again, a password reset),
-- counted per subject for their rate limits.
CREATE TABLE mail_requests (
    subject TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX mail_requests_by_subject ON mail_requests (subject, at);
