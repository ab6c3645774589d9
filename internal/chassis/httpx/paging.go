package httpx

import (
	"net/http"
	"strconv"

	"sanshi/internal/chassis/errs"
)

// Paging bounds.
const (
	MaxPage  = 10_000
	MaxLimit = 100
)

// Page is a list request's page (from 1) and page size.
type Page struct {
	Number, Limit int
}

// Offset is the number of items before the page.
func (p Page) Offset() int { return (p.Number - 1) * p.Limit }

// Paging reads ?page= (1 to MaxPage, default 1) and ?limit= (1 to
// MaxLimit, default defaultLimit): the one way every list endpoint reads
// them. Anything else is a 400 naming the parameter.
func Paging(r *http.Request, defaultLimit int) (Page, error) {
	q := r.URL.Query()
	p := Page{Number: 1, Limit: defaultLimit}
	f := map[string]string{}
	read := func(name string, dst *int, hi int) {
		v := q.Get(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hi {
			f[name] = "a whole number from 1 to " + strconv.Itoa(hi)
			return
		}
		*dst = n
	}
	read("page", &p.Number, MaxPage)
	read("limit", &p.Limit, MaxLimit)
	if len(f) > 0 {
		return p, errs.Fields(f)
	}
	return p, nil
}
