-- Events told by other services, kept until every recipient's mail and
-- inbox entry is written (fan-out), retried while the member or order
-- service cannot be reached.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    body            TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    done_at         TEXT
);
CREATE INDEX events_due ON events (next_attempt_at) WHERE done_at IS NULL;

-- One mail to one recipient, rendered whole when the event fanned out;
-- sent with retries, dead after too many.
CREATE TABLE mails (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    address         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    message         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    claimed_by      TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (event_id, recipient)
);
CREATE INDEX mails_due ON mails (next_attempt_at) WHERE state = 'queued';
CREATE INDEX mails_by_state ON mails (state, created_at);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    link       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at    TEXT,
    UNIQUE (event_id, member_id)
);
CREATE INDEX notifications_by_member ON notifications (member_id, created_at);

CREATE TABLE preferences (
    member_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    channel   TEXT NOT NULL,
    enabled   INTEGER NOT NULL,
    PRIMARY KEY (member_id, kind, channel)
);

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    project_title TEXT NOT NULL,
    backer_id     TEXT NOT NULL,
    creator_id    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_at       TEXT NOT NULL,
    reported_at   TEXT,
    report_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (project_id, backer_id)
);
CREATE INDEX conversations_by_backer ON conversations (backer_id, last_at);
CREATE INDEX conversations_by_creator ON conversations (creator_id, last_at);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    sender_id       TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at);
CREATE INDEX messages_by_sender ON messages (sender_id, created_at);

CREATE TABLE conversation_reads (
    conversation_id TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    read_at         TEXT NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
);

CREATE TABLE blocks (
    member_id  TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (member_id, blocked_id)
);
