package store

import (
	"regexp"
	"strconv"
	"strings"
)

// Merge folds statements that differ only in their arguments into one
// statement each, where their SQL allows it: a statement whose placeholders
// $1…$n are all in its one `VALUES (…)` tuple (an
// INSERT, an INSERT … SELECT … FROM (VALUES (…)) that sums by key, an
// UPDATE … FROM (VALUES (…))) becomes one statement with a tuple per
// original. A batch of changes writes its rows with a statement per kind
// of write instead of a statement per row: statements, not rows, are what
// a busy database charges for. Merged statements take the place of the
// first of their kind; the others keep their order.
func Merge(stmts []Statement) (merged []Statement) {
	type group struct {
		at         int // in merged
		head, tail string
		tuples     []string
	}
	groups := map[string]*group{} // by SQL
	for _, s := range stmts {
		head, tuple, tail, ok := valuesTuple(s.SQL, len(s.Args))
		if !ok {
			merged = append(merged, s)
			continue
		}
		g := groups[s.SQL]
		if g == nil {
			g = &group{at: len(merged), head: head, tail: tail}
			groups[s.SQL] = g
			merged = append(merged, Statement{})
		}
		m := &merged[g.at]
		g.tuples = append(g.tuples, renumber(tuple, len(m.Args)))
		m.Args = append(m.Args, s.Args...)
	}
	for _, g := range groups {
		merged[g.at].SQL = g.head + strings.Join(g.tuples, ", ") + g.tail
	}
	return merged
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// valuesTuple splits sql around its VALUES tuple when the tuple holds every
// placeholder $1…$n (a value may be used twice) and nothing else in sql
// holds one.
func valuesTuple(sql string, n int) (head, tuple, tail string, ok bool) {
	i := strings.Index(sql, "VALUES (")
	if i < 0 || n == 0 || strings.Contains(sql[i+1:], "VALUES (") {
		return "", "", "", false
	}
	start := i + len("VALUES ")
	depth, end := 0, -1
	for k := start; k < len(sql) && end < 0; k++ {
		switch sql[k] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				end = k + 1
			}
		case '\'':
			return "", "", "", false // no literals inside: keep the scan simple
		}
	}
	if end < 0 {
		return "", "", "", false
	}
	head, tuple, tail = sql[:start], sql[start:end], sql[end:]
	if strings.Contains(head, "$") || strings.Contains(tail, "$") {
		return "", "", "", false
	}
	used := make([]bool, n+1)
	for _, f := range placeholder.FindAllStringSubmatch(tuple, -1) {
		k, _ := strconv.Atoi(f[1])
		if k < 1 || k > n {
			return "", "", "", false
		}
		used[k] = true
	}
	for _, u := range used[1:] {
		if !u {
			return "", "", "", false
		}
	}
	return head, tuple, tail, true
}

// renumber shifts a tuple's placeholders by offset.
func renumber(tuple string, offset int) string {
	return placeholder.ReplaceAllStringFunc(tuple, func(p string) string {
		k, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(k+offset)
	})
}
