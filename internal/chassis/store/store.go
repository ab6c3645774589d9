// Package store opens a service's own database from DATABASE_URL (SQLite or
// PostgreSQL) and applies the SQL migrations the service embeds.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/trace"

	"sanshi/internal/chassis/tracing"
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is a service's database. Queries use $1-style placeholders, which both
// dialects accept.
//
// On SQLite every write goes through one connection of its own (writer):
// transactions, Exec and any query that is not a plain SELECT. SQLite has
// one writer at a time anyway; what a pool of writers added was cost. A
// connection that begins a transaction after another connection committed
// throws its page cache away and reads its pages again from the files (a
// pread per page), and writers waiting for the lock sleep in SQLite's busy
// handler. With one writer its cache stays warm across transactions and
// writers queue in Go. Plain reads go to the pool (*sql.DB), side by side.
type DB struct {
	*sql.DB
	Dialect string
	Counts  *Counts // statements and commits, counted by the driver
	writer  *sql.DB // SQLite's one writing connection; nil: the pool writes
}

// Open connects to url ("sqlite:PATH" or "postgres://...") and checks that the
// database answers.
func Open(ctx context.Context, url string) (*DB, error) {
	var db *DB
	counts := &Counts{}
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create folder for %s: %w", path, err)
		}
		// WAL lets readers run beside the writer; the busy timeout makes
		// concurrent writers (several instances on one file) wait, not fail.
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		sdb := sql.OpenDB(sqliteConnector{dsn: dsn, counts: counts})
		sdb.SetMaxOpenConns(8)
		sdb.SetMaxIdleConns(8)
		w := sql.OpenDB(sqliteConnector{dsn: dsn, counts: counts})
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		db = &DB{DB: sdb, Dialect: SQLite, Counts: counts, writer: w}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 5 * time.Second, Control: userTimeout}
		cfg.DialFunc = d.DialContext
		cfg.Tracer = pgCounter{counts}
		sdb := stdlib.OpenDB(*cfg)
		// Idle connections are kept up to the limit: the default of 2 made a
		// busy service close and reopen connections all the time, each a
		// new PostgreSQL process and a SCRAM handshake. The limit is low
		// because every connection is a server process of its own that
		// warms its own catalog caches and plans each statement again (the
		// pledge's insert took 3.6 ms to plan on a new connection), while
		// the writes that matter go in batches (group commits, pipelines)
		// that need few connections: a pledge burst's PostgreSQL CPU was
		// about a tenth lower with 8 than with 20 (docs/performance.md).
		sdb.SetMaxOpenConns(8)
		sdb.SetMaxIdleConns(8)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
		db = &DB{DB: sdb, Dialect: Postgres, Counts: counts}
	default:
		return nil, fmt.Errorf("DATABASE_URL: expected sqlite:PATH or postgres://..., got another scheme")
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("database does not answer: %w", err)
	}
	return db, nil
}

// writes is where statements that write go: SQLite's writer, or the pool.
func (db *DB) writes() *sql.DB {
	if db.writer != nil {
		return db.writer
	}
	return db.DB
}

// BeginTx begins a transaction on the connection that writes. A
// transaction must not wait for another statement of db that writes (it
// would wait for itself on SQLite): inside one, write through the *sql.Tx.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	return db.writes().BeginTx(ctx, opts)
}

// ExecContext runs a statement on the connection that writes.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.writes().ExecContext(ctx, query, args...)
}

// QueryContext runs a plain SELECT on the pool and anything else (an
// UPDATE … RETURNING, a claim's WITH … UPDATE) on the connection that
// writes.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.by(query).QueryContext(ctx, query, args...)
}

// QueryRowContext is QueryContext for one row.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.by(query).QueryRowContext(ctx, query, args...)
}

func (db *DB) by(query string) *sql.DB {
	if db.writer == nil || keyword(query) == "SELECT" { // PostgreSQL's pool does both
		return db.DB
	}
	return db.writes()
}

// Conn is a connection of its own from the connection that writes, for
// work that needs one session (migrations, pgx's pipelines).
func (db *DB) Conn(ctx context.Context) (*sql.Conn, error) {
	return db.writes().Conn(ctx)
}

// Close closes the pool and the writer.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.writer != nil {
		if werr := db.writer.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// TimeFormat stores times as fixed-width UTC text, so that they sort and
// compare as text the same way on SQLite and PostgreSQL.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// TS formats t for storage.
func TS(t time.Time) string { return t.UTC().Format(TimeFormat) }

// OptTS formats an optional time for storage: NULL when there is none.
func OptTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return TS(*t)
}

// ParseTS reads a stored time; the zero time for "".
func ParseTS(s string) time.Time {
	t, _ := time.Parse(TimeFormat, s)
	return t
}

// NewID returns a random, roughly time-ordered id of 20 lowercase
// characters, safe in URLs.
func NewID() string {
	var b [12]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))[:20]
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ForUpdate is the row-locking suffix of a SELECT in a transaction: FOR
// UPDATE on PostgreSQL; nothing on SQLite, whose transactions begin
// IMMEDIATE and so already hold the write lock.
func (db *DB) ForUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Row is what a scan function reads: a *sql.Row or *sql.Rows. An alias, so
// every service's scanX(row interface{ Scan(...any) error }) fits it.
type Row = interface{ Scan(...any) error }

// Querier runs queries: a *DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// List runs query and reads each row with scan; no rows is an empty,
// non-nil slice (JSON []).
func List[T any](ctx context.Context, q Querier, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Strings runs a query that returns one text column, such as a list of ids.
func (db *DB) Strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Tx runs fn in a transaction, committing when fn returns nil; a traced
// request gets a span for it.
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	ctx, span := tracing.Start(ctx, "db transaction", trace.SpanKindInternal)
	defer func() { tracing.End(span, err) }()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads files named NNN_name.sql from fsys. A file named
// NNN_name.postgres.sql or NNN_name.sqlite.sql replaces the plain one for
// that dialect.
func LoadMigrations(fsys fs.FS, dialect string) ([]Migration, error) {
	if fsys == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	specific := map[int]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		base := strings.TrimSuffix(name, ".sql")
		only := ""
		for _, d := range []string{SQLite, Postgres} {
			if b, ok := strings.CutSuffix(base, "."+d); ok {
				base, only = b, d
			}
		}
		if only != "" && only != dialect {
			continue
		}
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNN_description.sql", name)
		}
		if specific[v] {
			continue // the dialect's own file wins over the plain one
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		byVersion[v] = Migration{Version: v, Name: base, SQL: string(body)}
		specific[v] = only != ""
	}
	var out []Migration
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies the migrations of component (a service, or a chassis part
// such as the outbox) not yet applied, each in its own transaction, and
// returns how many it applied. Several instances starting at once are
// serialised by a lock (an advisory lock on PostgreSQL, the write lock on
// SQLite).
func Migrate(ctx context.Context, db *DB, component string, fsys fs.FS) (int, error) {
	migs, err := LoadMigrations(fsys, db.Dialect)
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if db.Dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7210301)`); err != nil {
			return 0, fmt.Errorf("migration lock: %w", err)
		}
		defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(7210301)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range migs {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE component = $1 AND version = $2`, component, m.Version).Scan(&n); err != nil {
			_ = tx.Rollback()
			return applied, err
		}
		if n > 0 {
			_ = tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			_ = tx.Rollback()
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)`,
			component, m.Version, m.Name, TS(time.Now())); err != nil {
			_ = tx.Rollback()
			return applied, err
		}
		if err := tx.Commit(); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

// Placeholders is "$from, $from+1, …" for n arguments, as an IN list needs.
func Placeholders(from, n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("$" + strconv.Itoa(from+i))
	}
	return sb.String()
}

// In is the condition that a column is one of ids, the ids taking the
// arguments from $from on: `= ANY($from)` with one array on PostgreSQL,
// whose text is then the same for any number of ids, so pgx prepares it
// once per connection instead of PostgreSQL parsing and planning a new
// text for each batch size; `IN ($from, …)` on SQLite, which has no arrays.
func (db *DB) In(from int, ids []string) (cond string, args []any) {
	if db.Dialect == Postgres {
		return " = ANY($" + strconv.Itoa(from) + ")", []any{ids}
	}
	return " IN (" + Placeholders(from, len(ids)) + ")", Args(ids)
}

// Args passes strings as a statement's arguments.
func Args(vs []string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// Tuples is "($from, …), (…)" for n rows of width arguments each, as a
// multi-row VALUES list needs (arguments row by row).
func Tuples(from, n, width int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(" + Placeholders(from+i*width, width) + ")")
	}
	return sb.String()
}

// Claim is the statement that takes up to limit rows of table matching
// where (the first by order), applies set to them and answers returning:
// how an outbox or a queue claims its due work so that two instances never
// take the same row. The rows are chosen once, in a materialized CTE, and
// the update joins them by key. Written as the subquery of an IN,
// PostgreSQL may run the choice again for every candidate row (a nested
// loop when its statistics say the table is small), locking and reading
// the chosen rows each time and taking more than limit of them; and an
// update that repeats where walks every due row against the chosen ones.
// On PostgreSQL the chosen rows are locked (rows another transaction is
// claiming are passed over, and a row changed meanwhile is checked again
// before it is locked), so the update needs no second check; SQLite has one
// writer at a time.
func (db *DB) Claim(table, key, set, where, order string, limit int, returning string) string {
	lock := ""
	if db.Dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return `WITH chosen (chosen_key) AS MATERIALIZED (SELECT ` + key + ` FROM ` + table + ` WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(limit) + lock + `)
		UPDATE ` + table + ` SET ` + set + ` FROM chosen WHERE ` + table + `.` + key + ` = chosen.chosen_key
		RETURNING ` + returning
}
