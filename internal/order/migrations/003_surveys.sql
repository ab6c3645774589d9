-- A succeeded campaign's survey (one per project) and each pledge's answer
-- (the shipping address copied and kept as answered).
CREATE TABLE surveys (
    project_id TEXT PRIMARY KEY,
    questions  TEXT NOT NULL,
    lock_at    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE survey_answers (
    order_id    TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    answers     TEXT NOT NULL,
    address     TEXT,
    answered_at TEXT NOT NULL
);
CREATE INDEX survey_answers_by_project ON survey_answers (project_id);
