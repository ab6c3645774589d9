CREATE TABLE categories (
    slug     TEXT PRIMARY KEY,
    name_zh  TEXT NOT NULL,
    name_en  TEXT NOT NULL,
    position INTEGER NOT NULL
);

INSERT INTO categories (slug, name_zh, name_en, position) VALUES
    ('film', '影视', 'Film & Video', 1),
    ('games', '游戏', 'Games', 2),
    ('music', '音乐', 'Music', 3),
    ('media', '传媒', 'Media & Publishing', 4),
    ('animation', '动漫', 'Animation & Comics', 5),
    ('design', '设计', 'Design', 6),
    ('art', '艺术', 'Art', 7);
