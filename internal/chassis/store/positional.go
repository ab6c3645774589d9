package store

import (
	"database/sql/driver"
	"fmt"
	"strings"
)

// The SQLite driver asks SQLite for the name of every parameter it binds,
// and SQLite finds a numbered parameter's name ($7, ?7) by walking the list
// of all of the statement's named parameters: a batch's statement with
// hundreds of parameters bound in quadratic time (12 % of the order
// service's CPU while a burst of pledges was paid, `sanshi bench pledge
// --profile`). Anonymous parameters (?) have no name to look up, so the
// SQLite connections send the services' $N statements with ? in their
// place and the arguments in the order their marks appear.

// positional rewrites query's $N parameters as ? and returns, for each ?,
// the number of the argument it takes. ok is false when the query has no
// parameter or has a kind this rewrite does not handle (?, :name, @name,
// $name, $01, which the driver takes for names) or holds several statements:
// it is then sent as it is.
func positional(query string) (rewritten string, takes []int, ok bool) {
	var b strings.Builder
	b.Grow(len(query))
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"' || c == '`' || c == '[':
			end := closing(query, i)
			b.WriteString(query[i:end])
			i = end
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				return "", nil, false
			}
			b.WriteString(query[i : i+2+end+2])
			i += 2 + end + 2
		case c == '?':
			return "", nil, false
		case c == ';' && strings.TrimSpace(query[i+1:]) != "":
			// Several statements: the driver numbers each one's ? from 1.
			return "", nil, false
		case (c == ':' || c == '@') && i+1 < len(query) && isWord(query[i+1]):
			return "", nil, false
		case c == '$' && (i == 0 || !isWord(query[i-1]) && query[i-1] != '$'):
			// (after a word's letter, $ is part of the word: SQLite allows
			// it in identifiers)
			j := i + 1
			n := 0
			for j < len(query) && query[j] >= '0' && query[j] <= '9' && n < 1_000_000 {
				n = n*10 + int(query[j]-'0')
				j++
			}
			if j == i+1 || query[i+1] == '0' || (j < len(query) && isWord(query[j])) {
				return "", nil, false
			}
			b.WriteByte('?')
			takes = append(takes, n)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	if len(takes) == 0 {
		return "", nil, false
	}
	return b.String(), takes, true
}

// closing returns the index after the quoted text that starts at i (a
// doubled quote inside is part of it); the query's end when it is not
// closed, so that SQLite reports the error.
func closing(query string, i int) int {
	end := query[i]
	if end == '[' {
		end = ']'
	}
	for j := i + 1; j < len(query); j++ {
		if query[j] != end {
			continue
		}
		if end != ']' && j+1 < len(query) && query[j+1] == end {
			j++
			continue
		}
		return j + 1
	}
	return len(query)
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// arrange gives each ? of a rewritten statement the argument it takes.
func arrange(takes []int, args []driver.NamedValue) ([]driver.NamedValue, error) {
	out := make([]driver.NamedValue, len(takes))
	for k, n := range takes {
		a, ok := argument(args, n)
		if !ok {
			return nil, fmt.Errorf("store: missing argument $%d", n)
		}
		out[k] = driver.NamedValue{Ordinal: k + 1, Value: a.Value}
	}
	return out, nil
}

func argument(args []driver.NamedValue, n int) (driver.NamedValue, bool) {
	if n <= len(args) && args[n-1].Ordinal == n && args[n-1].Name == "" {
		return args[n-1], true
	}
	for _, a := range args {
		if a.Ordinal == n && a.Name == "" {
			return a, true
		}
	}
	return driver.NamedValue{}, false
}
