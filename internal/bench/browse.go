package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Browse measures the home page and a project page through the gateway:
// requests/s and p99 for each, with conns visitors loading back to back.
func Browse(ctx context.Context, exe string, d time.Duration, conns int, out, progress io.Writer) error {
	fmt.Fprintf(progress, "starting a platform on loopback…\n")
	c, err := startCluster(ctx, exe, "", []string{"member", "project", "cashier", "order", "notify"}, nil)
	defer c.stop()
	if err != nil {
		return err
	}
	anon := newAPI("http://"+c.gateway, http.DefaultClient)
	projectID, _, err := setupProject(anon, c, 100)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nsanshi bench browse — %d visitors, %s per page, through the gateway on loopback\n", conns, d)
	for _, pg := range []struct{ name, path string }{{"home page", "/"}, {"project page", "/projects/" + projectID}} {
		fmt.Fprintf(progress, "loading the %s…\n", pg.name)
		closedLoop("http://"+c.gateway+pg.path, "", 4, time.Second) // warm the caches
		rps, p99, failed := closedLoop("http://"+c.gateway+pg.path, "", conns, d)
		fmt.Fprintf(out, "  %-13s %8.0f requests/s   p99 %s   (%d failed)\n", pg.name, rps, ms(p99), failed)
	}
	return nil
}
