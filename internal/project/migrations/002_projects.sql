CREATE TABLE projects (
    id            TEXT PRIMARY KEY,
    creator_id    TEXT NOT NULL,
    status        TEXT NOT NULL,
    title         TEXT NOT NULL,
    subtitle      TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL REFERENCES categories (slug),
    story         TEXT NOT NULL DEFAULT '',
    story_html    TEXT NOT NULL DEFAULT '',
    goal          BIGINT NOT NULL,
    duration_days INTEGER NOT NULL,
    pledged       BIGINT NOT NULL DEFAULT 0,
    backers       INTEGER NOT NULL DEFAULT 0,
    featured      INTEGER NOT NULL DEFAULT 0,
    cover         TEXT NOT NULL DEFAULT '',
    reject_reason TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    launched_at   TEXT,
    deadline      TEXT,
    settled_at    TEXT,
    version       BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX projects_by_status_deadline ON projects (status, deadline);
CREATE INDEX projects_by_creator ON projects (creator_id);
CREATE INDEX projects_by_category ON projects (category, status);

CREATE TABLE rewards (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects (id),
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    price          BIGINT NOT NULL,
    stock_limit    INTEGER,
    reserved       INTEGER NOT NULL DEFAULT 0,
    ships          INTEGER NOT NULL DEFAULT 0,
    delivery_month TEXT NOT NULL,
    position       INTEGER NOT NULL DEFAULT 0,
    deleted        INTEGER NOT NULL DEFAULT 0,
    CHECK (stock_limit IS NULL OR reserved <= stock_limit),
    CHECK (reserved >= 0)
);
CREATE INDEX rewards_by_project ON rewards (project_id);

-- One row per order that asked for a reward unit; the order id makes
-- reserve and release idempotent.
CREATE TABLE reservations (
    order_id   TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    reward_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Paid pledges, one per order, as the order service reports them.
CREATE TABLE pledges (
    order_id   TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    member_id  TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    added_at   TEXT NOT NULL,
    removed_at TEXT
);
CREATE INDEX pledges_by_project ON pledges (project_id, added_at);
CREATE INDEX pledges_by_member ON pledges (member_id, project_id);

CREATE TABLE updates (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    body_html    TEXT NOT NULL,
    backers_only INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL
);
CREATE INDEX updates_by_project ON updates (project_id, created_at);

CREATE TABLE comments (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    member_id  TEXT NOT NULL,
    parent_id  TEXT,
    body       TEXT NOT NULL,
    by_creator INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_by_project ON comments (project_id, created_at);

CREATE TABLE follows (
    project_id TEXT NOT NULL REFERENCES projects (id),
    member_id  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (project_id, member_id)
);
