package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	"modernc.org/sqlite"
)

// The SQLite driver compiles every query it is given: with a service
// querying through database/sql's one-shot calls, parsing and planning the
// same few statements took 15–18 % of the order service's CPU during a
// pledge burst (`sanshi bench pledge --profile`). cachedSQLite keeps each
// connection's compiled statements and reuses them; pgx already does the
// same for PostgreSQL.

// sqliteConnector opens store.Open's SQLite connections: cached
// statements, counted.
type sqliteConnector struct {
	dsn    string
	counts *Counts
}

func (c sqliteConnector) Driver() driver.Driver { return cachedSQLite{&sqlite.Driver{}, c.counts} }

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	return c.Driver().Open(c.dsn)
}

// stmtsPerConn bounds a connection's cache; queries beyond it are compiled
// each time, as without the cache (a service has a few dozen statements).
const stmtsPerConn = 256

type cachedSQLite struct {
	inner  driver.Driver
	counts *Counts
}

func (d cachedSQLite) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	inner, ok := c.(sqliteConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("store: the SQLite driver's connection lacks the context methods")
	}
	return &cachedConn{sqliteConn: inner, stmts: map[string]*cachedStmt{}, counts: d.counts}, nil
}

// sqliteConn is what the SQLite driver's connection offers and
// database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachedConn is one SQLite connection with its compiled statements.
// database/sql never uses a connection from two goroutines at once, so the
// map needs no lock; a statement is busy while rows read from it are open
// (a transaction can run the same query again inside such a loop, and then
// gets a statement of its own).
type cachedConn struct {
	sqliteConn
	stmts  map[string]*cachedStmt
	counts *Counts
	inTx   bool // a statement outside a transaction commits by itself
}

func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.sqliteConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return countedTx{tx, c}, nil
}

// countedTx counts its commit.
type countedTx struct {
	driver.Tx
	c *cachedConn
}

func (t countedTx) Commit() error {
	t.c.inTx = false
	err := t.Tx.Commit()
	if err == nil {
		t.c.counts.Commits.Add(1)
	}
	return err
}

func (t countedTx) Rollback() error {
	t.c.inTx = false
	return t.Tx.Rollback()
}

// sqliteStmt is what the SQLite driver's statement offers.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachedStmt is a compiled statement in use by one call; one that is not in
// the cache (busy or over the bound) is closed when the call is done.
type cachedStmt struct {
	sqliteStmt
	busy, owned bool
	takes       []int // the argument each ? takes, when $N were rewritten (positional)
}

// args puts the caller's arguments in the order of the statement's marks.
func (s *cachedStmt) args(args []driver.NamedValue) ([]driver.NamedValue, error) {
	if s.takes == nil {
		return args, nil
	}
	return arrange(s.takes, args)
}

func (s *cachedStmt) release() {
	if s.owned {
		_ = s.Close()
	}
	s.busy = false
}

// statement returns the cached statement for query (marked busy) or, when it
// is busy or the cache is full, a fresh one of the caller's own.
func (c *cachedConn) statement(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok && !s.busy {
		s.busy = true
		return s, nil
	}
	text := query
	rewritten, takes, ok := positional(query)
	if ok {
		text = rewritten
	}
	ds, err := c.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(sqliteStmt)
	if !ok {
		_ = ds.Close()
		return nil, errors.New("store: the SQLite driver's statement lacks the context methods")
	}
	_, taken := c.stmts[query]
	s := &cachedStmt{sqliteStmt: st, busy: true, owned: taken || len(c.stmts) >= stmtsPerConn, takes: takes}
	if !s.owned {
		c.stmts[query] = s
	}
	return s, nil
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	defer s.release()
	args, err = s.args(args)
	if err != nil {
		return nil, err
	}
	res, err := s.ExecContext(ctx, args)
	c.counts.Statements.Add(1)
	if err == nil && !c.inTx {
		if n, _ := res.RowsAffected(); n > 0 {
			c.counts.Commits.Add(1)
		}
	}
	return res, err
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	args, err = s.args(args)
	if err != nil {
		s.release()
		return nil, err
	}
	rows, err := s.QueryContext(ctx, args)
	c.counts.Statements.Add(1)
	if err != nil {
		s.release()
		return nil, err
	}
	return &releasingRows{Rows: rows, stmt: s}, nil
}

// Close closes the cached statements, then the connection.
func (c *cachedConn) Close() error {
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
	return c.sqliteConn.Close()
}

// releasingRows gives its statement back when closed (database/sql closes
// a driver's rows once), and passes on the column types the SQLite driver
// reports.
type releasingRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	r.stmt.release()
	return err
}

func (r *releasingRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *releasingRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *releasingRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
