CREATE TABLE members (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    nickname      TEXT NOT NULL,
    bio           TEXT NOT NULL DEFAULT '',
    avatar        TEXT NOT NULL DEFAULT '',
    roles         TEXT NOT NULL DEFAULT 'backer',
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES members (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_by_member ON sessions (member_id);

CREATE TABLE login_failures (
    subject TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures (subject, at);

CREATE TABLE addresses (
    id         TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES members (id),
    recipient  TEXT NOT NULL,
    phone      TEXT NOT NULL,
    province   TEXT NOT NULL,
    city       TEXT NOT NULL,
    district   TEXT NOT NULL,
    detail     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX addresses_by_member ON addresses (member_id);
