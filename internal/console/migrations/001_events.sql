-- The console's event journal: what happened to which instance, and who
-- did what. It outlives restarts, unlike an in-memory list.
CREATE TABLE events (
    id       TEXT PRIMARY KEY,
    at       TEXT NOT NULL,
    service  TEXT NOT NULL,
    instance TEXT NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT '',
    actor    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_time ON events (at);
CREATE INDEX events_by_instance ON events (service, instance, at);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
