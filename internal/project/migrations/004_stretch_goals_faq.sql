-- Stretch goals: amounts past the goal a creator rallies backers to.
-- next_stretch on the project is the smallest one not reached yet, so
-- counting a pledge checks one number (no query) until one is reached.
CREATE TABLE stretch_goals (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    amount      BIGINT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    reached_at  TEXT,
    created_at  TEXT NOT NULL,
    UNIQUE (project_id, amount)
);
ALTER TABLE projects ADD COLUMN next_stretch BIGINT NOT NULL DEFAULT 0;

-- The project's questions and answers, in the creator's order.
CREATE TABLE faq (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    position   INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX faq_by_project ON faq (project_id, position);
