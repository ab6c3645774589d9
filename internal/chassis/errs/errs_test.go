package errs_test

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"sanshi/internal/chassis/errs"
)

// TestEveryCodeIsKnown reads the source of every package and fails on an
// error code that is not one of the errs constants: a literal code passed
// to errs.E or set in an errs.Error, which the status table would not know.
func TestEveryCodeIsKnown(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var lit *ast.BasicLit
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && isErrs(sel.X) && sel.Sel.Name == "E" && len(n.Args) > 0 {
					lit, _ = n.Args[0].(*ast.BasicLit)
				}
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && isErrs(sel.X) && sel.Sel.Name == "Error" {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok && kv.Key.(*ast.Ident).Name == "Code" {
							lit, _ = kv.Value.(*ast.BasicLit)
						}
					}
				}
			}
			if lit != nil {
				code, _ := strconv.Unquote(lit.Value)
				t.Errorf("%s: error code %q written as a literal; use an errs constant (known: %v)", fset.Position(lit.Pos()), code, errs.Known(code))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isErrs(x ast.Expr) bool {
	id, ok := x.(*ast.Ident)
	return ok && id.Name == "errs"
}

func TestStatusTable(t *testing.T) {
	for code, want := range map[string]int{
		errs.Invalid: 400, errs.Unauthorized: 401, errs.Forbidden: 403, errs.NotFound: 404,
		errs.Conflict: 409, errs.SoldOut: 409, errs.WrongState: 409, errs.Duplicate: 409, errs.TooMany: 409,
		errs.TooLarge: 413, errs.RateLimited: 429, errs.Unavailable: 503, errs.Internal: 500, "made_up": 500,
	} {
		if got := errs.Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
	if errs.Known("made_up") {
		t.Error("an unknown code is known")
	}
}

// TestWriteHidesCausesAndMarksUpstream checks what a client sees of a 5xx.
func TestWriteHidesCausesAndMarksUpstream(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("X-Request-Id", "req-1")
	e := errs.E(errs.Unavailable, "the order service is unavailable")
	e.Upstream = true
	errs.Write(w, e)
	var body struct {
		Error struct {
			Code, Message string
			RequestID     string `json:"request_id"`
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusServiceUnavailable || body.Error.RequestID != "req-1" || w.Header().Get(errs.HeaderFault) != "upstream" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d %+v %v", w.Code, body, w.Header())
	}
	w = httptest.NewRecorder()
	errs.Write(w, errs.Wrap(http.ErrHandlerTimeout, "dial tcp 10.0.0.1:5432"))
	if strings.Contains(w.Body.String(), "10.0.0.1") || strings.Contains(w.Body.String(), "timeout") || w.Header().Get(errs.HeaderFault) != "" {
		t.Fatalf("internal detail leaked: %s", w.Body.String())
	}
	w = httptest.NewRecorder()
	errs.Write(w, errs.E(errs.NotFound, "no such order"))
	if strings.Contains(w.Body.String(), "request_id") {
		t.Fatalf("a 404 carries a request id: %s", w.Body.String())
	}
}

type sqlStateError string

func (e sqlStateError) Error() string    { return "pg: " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

// While the database restarts, clients get a clean 503 to retry, marked as
// an upstream fault, never a 500 or the driver's words.
func TestStorageDownIsUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"refused, wrapped", errs.Wrap(fmt.Errorf("failed to connect to 10.0.0.3:5432: %w", refused), "list orders"), 503},
		{"refused, bare", refused, 503},
		{"admin shutdown 57P01", errs.Wrap(sqlStateError("57P01"), "load"), 503},
		{"cannot connect now 57P03", sqlStateError("57P03"), 503},
		{"connection failure 08006", sqlStateError("08006"), 503},
		{"bad connection", fmt.Errorf("query: %w", driver.ErrBadConn), 503},
		{"unexpected EOF", errs.Wrap(io.ErrUnexpectedEOF, "scan"), 503},
		{"out of time waiting for the database", errs.Wrap(fmt.Errorf("query: %w", context.DeadlineExceeded), "load"), 503},
		{"statement timeout 57014", sqlStateError("57014"), 500},
		{"unique violation 23505", errs.Wrap(sqlStateError("23505"), "insert"), 500},
		{"a bug", errors.New("nil map"), 500},
		{"a request error stays", errs.E(errs.Invalid, "bad"), 400},
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-Id", "rid")
		errs.Write(rec, tc.err)
		body := rec.Body.String()
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.want, body)
		}
		if tc.want == 503 && (rec.Header().Get(errs.HeaderFault) != "upstream" || rec.Header().Get("Retry-After") == "" ||
			strings.Contains(body, "5432") || strings.Contains(body, "10.0.0.3") || strings.Contains(body, "pg:") || !strings.Contains(body, "rid")) {
			t.Errorf("%s: %v %s", tc.name, rec.Header(), body)
		}
	}
}
