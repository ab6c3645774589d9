package devrun

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// When the operator account cannot be made, sanshi dev says what to do,
// and remembers nothing, so that the next start tries again.
func TestOperatorNotCreatedSaysWhatToDo(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	defer site.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(site.URL, "http://"))
	p, _ := strconv.Atoi(port)
	dir := t.TempDir()
	line := seedOperator(Options{SitePort: p}, dir)
	if !strings.Contains(line, "not created") || !strings.Contains(line, "tries again") || !strings.Contains(line, "grant-operator") {
		t.Fatalf("the line shown: %q", line)
	}
	if _, err := os.Stat(filepath.Join(dir, "operator-created")); err == nil {
		t.Fatal("a failed attempt was remembered as done: the next start would not retry")
	}
}
