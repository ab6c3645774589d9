package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	_ "modernc.org/sqlite" // the reference: SQLite given the $N text itself
)

func TestPositionalRewritesOnlyNumberedParameters(t *testing.T) {
	for _, c := range []struct {
		in, out string
		takes   []int
	}{
		{`SELECT $1`, `SELECT ?`, []int{1}},
		{`UPDATE t SET a = $2, b = $1 WHERE c = $2`, `UPDATE t SET a = ?, b = ? WHERE c = ?`, []int{2, 1, 2}},
		{`INSERT INTO t VALUES ($1, $2), ($3, $4)`, `INSERT INTO t VALUES (?, ?), (?, ?)`, []int{1, 2, 3, 4}},
		{`SELECT '$1', "$2", $3 -- $4` + "\n" + `/* $5 */ FROM t WHERE x = '''$6' AND y = $12`, `SELECT '$1', "$2", ? -- $4` + "\n" + `/* $5 */ FROM t WHERE x = '''$6' AND y = ?`, []int{3, 12}},
		{`SELECT json_extract(body, '$.amount') FROM t WHERE id = $1`, `SELECT json_extract(body, '$.amount') FROM t WHERE id = ?`, []int{1}},
		{`SELECT 1`, ``, nil},            // nothing to rewrite
		{`SELECT ?, $1`, ``, nil},        // anonymous already
		{`SELECT :name, $1`, ``, nil},    // named
		{`SELECT @name, $1`, ``, nil},    // named
		{`SELECT $name`, ``, nil},        // named with $
		{`SELECT $1abc`, ``, nil},        // not a number
		{`SELECT $0`, ``, nil},           // SQLite refuses it: left to say so
		{`SELECT $01`, ``, nil},          // the driver takes it for a name
		{`SELECT $`, ``, nil},            // a bare $
		{`SELECT $1 /* open`, ``, nil},   // an open comment: left to SQLite
		{`SELECT '$1 open, $2`, ``, nil}, // an open string hides the rest
		{`SELECT [$1], $2`, `SELECT [$1], ?`, []int{2}},
		{`SELECT $1; SELECT $2`, ``, nil},     // several statements
		{`SELECT $1;`, `SELECT ?;`, []int{1}}, // one, ended
		{`SELECT ';', $1`, `SELECT ';', ?`, []int{1}},
		{`SELECT 1 AS a$1, $2`, `SELECT 1 AS a$1, ?`, []int{2}}, // $ inside an identifier
	} {
		out, takes, ok := positional(c.in)
		if c.takes == nil {
			if ok {
				t.Errorf("positional(%q) = %q, %v; want it sent as it is", c.in, out, takes)
			}
			continue
		}
		if !ok || out != c.out || !reflect.DeepEqual(takes, c.takes) {
			t.Errorf("positional(%q) = %q, %v, %v; want %q, %v", c.in, out, takes, ok, c.out, c.takes)
		}
	}
}

// FuzzPositionalAgreesWithSQLite sends the same statement with the same
// arguments to SQLite twice, once as it is ($N, the reference) and once
// through the store's connection (rewritten as ?), and compares the answers.
func FuzzPositionalAgreesWithSQLite(f *testing.F) {
	for _, s := range []string{
		`$1`, `$2 || $1 || $2`, `$3 + $1`, `'$1' || $2`, `"$1"`, `$1 -- $2`, `/* $1 */ $2`,
		`($1, $2)`, `CASE WHEN $1 > 0 THEN $2 ELSE $3 END`, `json_extract('{"a":1}', '$.a') + $1`,
		`$1 IN ($1, $2, $3)`, `$1$2`, `$1::$2`, `x$1`, `$1; SELECT $2`, `$1;`, `$10`, `$4`, `?`, `:a`, `@a`, `$a`, `$01`, `[$1]`, `'it''s $1' || $2`,
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.db")
	ref, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		f.Fatal(err)
	}
	defer ref.Close()
	ours, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		f.Fatal(err)
	}
	defer ours.Close()
	args := []any{int64(7), "b", int64(-3), 2.5, nil}
	f.Fuzz(func(t *testing.T, expr string) {
		q := "SELECT " + expr
		want, werr := answer(ref, q, args)
		got, gerr := answer(ours.DB, q, args)
		if (werr == nil) != (gerr == nil) || want != got {
			t.Fatalf("%q: SQLite answered %q (%v), the store %q (%v)", q, want, werr, got, gerr)
		}
	})
}

// answer is a query's rows as text.
func answer(db *sql.DB, q string, args []any) (string, error) {
	rows, err := db.Query(q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var out string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		out += fmt.Sprintf("%#v\n", vals)
	}
	return out, rows.Err()
}
