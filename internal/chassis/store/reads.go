package store

import (
	"context"

	"sanshi/internal/chassis/batch"
)

// Reads reads rows of one table by id, concurrent reads together: while
// one statement is in flight, the reads that come meanwhile wait and go in
// the next (`WHERE id IN (…)`). A burst's reads of different rows (the
// orders a burst of payments checks, the addresses of a burst of pledges)
// are then a few statements, not one each; a lone read goes at once. A
// read sees every write committed before it was asked.
type Reads[T any] struct {
	db    *DB
	query string // SELECT cols FROM table WHERE extra AND id
	scan  func(Row) (T, error)
	id    func(T) string
	group batch.Group[string, *T]
}

// NewReads reads cols of table by id; where, when not empty, is a further
// condition on the rows (deleted_at IS NULL).
func NewReads[T any](db *DB, table, cols, where string, scan func(Row) (T, error), id func(T) string) *Reads[T] {
	q := `SELECT ` + cols + ` FROM ` + table + ` WHERE `
	if where != "" {
		q += where + ` AND `
	}
	r := &Reads[T]{db: db, query: q + `id`, scan: scan, id: id}
	r.group.Run = r.run
	r.group.Max = 200
	return r
}

// Get reads the row id; found is false when there is none.
func (r *Reads[T]) Get(ctx context.Context, id string) (v T, found bool, err error) {
	p, err := r.group.Do(ctx, "", id)
	if err != nil || p == nil {
		return v, false, err
	}
	return *p, true, nil // a copy: two reads of one row in a batch share the scan
}

func (r *Reads[T]) run(ctx context.Context, _ string, ids []string) []batch.Result[*T] {
	out := make([]batch.Result[*T], len(ids))
	uniq := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	found := map[string]*T{}
	in, args := r.db.In(1, uniq)
	rows, err := r.db.QueryContext(ctx, r.query+in, args...)
	if err == nil {
		for rows.Next() {
			v, serr := r.scan(rows)
			if serr != nil {
				err = serr
				break
			}
			found[r.id(v)] = &v
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = rows.Err()
		}
	}
	for i, id := range ids {
		out[i] = batch.Result[*T]{Value: found[id], Err: err}
	}
	return out
}
