package testkit

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"sanshi/internal/chassis/store"
)

// PostgresURL creates a fresh PostgreSQL database for the test, dropped when
// it ends. Without a reachable server it logs a loud SKIPPED line and returns
// "" (the caller decides whether to skip the whole test). The server is taken
// from SANSHI_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432/postgres.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("SANSHI_TEST_POSTGRES")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	db, err := sql.Open("pgx", admin)
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		t.Logf("SKIPPED (PostgreSQL): no server at %s: %v — run scripts/test.sh to install and start it", admin, err)
		fmt.Fprintf(os.Stderr, "!!! %s: PostgreSQL part SKIPPED: no server reachable\n", t.Name())
		return ""
	}
	defer db.Close()
	name := fmt.Sprintf("sanshi_test_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("pgx", admin); err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") // best effort clean-up
			_ = db.Close()
		}
	})
	base, query, _ := strings.Cut(admin, "?")
	base = base[:strings.LastIndexByte(base, '/')+1] + name
	if query != "" {
		base += "?" + query
	}
	return base
}

// DatabaseURLs is where a test of storage runs: a fresh SQLite file named
// name in the test's folder and, when a server is reachable, a fresh
// PostgreSQL database (by dialect).
func DatabaseURLs(t testing.TB, name string) map[string]string {
	t.Helper()
	urls := map[string]string{store.SQLite: "sqlite:" + filepath.Join(t.TempDir(), name+".db")}
	if pg := PostgresURL(t); pg != "" {
		urls[store.Postgres] = pg
	}
	return urls
}
