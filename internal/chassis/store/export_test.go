package store

import "database/sql"

// Writer is SQLite's one writing connection, for tests that check where
// statements go.
func Writer(db *DB) *sql.DB { return db.writer }
