package testkit

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURL returns a Redis URL for tests (REDIS_TEST_URL, default database
// 15 on 127.0.0.1:6379), flushing that database first. Without a server it
// logs a loud SKIPPED line and returns "".
func RedisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("REDIS_TEST_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/15"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_TEST_URL: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Logf("SKIPPED (Redis): no server at %s: %v — run scripts/test.sh to install and start it", url, err)
		fmt.Fprintf(os.Stderr, "!!! %s: Redis part SKIPPED: no server reachable\n", t.Name())
		return ""
	}
	return url
}
