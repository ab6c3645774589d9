package gateway

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Route sends matching requests to a service.
type Route struct {
	ID      string
	Prefix  string // path prefix, on segment boundaries ("/api/v1/orders")
	Pattern string // or a path.Match pattern ("/api/v1/projects/*/comments")
	Host    string
	Methods []string
	Header  string // "Name=Value" the request must carry
	Service string
	// StripPrefix is removed from the path and Rewrite put in its place.
	StripPrefix string
	Rewrite     string
	Timeout     time.Duration
	Retries     int    // extra instances to try (idempotent or keyed requests only)
	MaxBody     int64  // bytes
	Auth        string // "required" or "" (services decide)
	Rate        float64
	Burst       int
	// Stream marks a route of long-lived answers (Server-Sent Events): they
	// are copied on as they come, flushed each time, and not counted among
	// the requests in flight that load shedding judges.
	Stream bool
}

// DefaultRoutes are the API routes used when the configuration has none.
// They retry like configured routes do (a killed instance's idempotent
// requests go to another one).
var DefaultRoutes = []Route{
	{ID: "members", Prefix: "/api/v1/members", Service: "member", Retries: defaultRetries},
	{ID: "sessions", Prefix: "/api/v1/sessions", Service: "member", Retries: defaultRetries},
	{ID: "categories", Prefix: "/api/v1/categories", Service: "project", Retries: defaultRetries},
	// Live totals: a project page's Server-Sent Events stream.
	{ID: "project-live", Pattern: "/api/v1/projects/*/live", Service: "project", Timeout: 5 * time.Minute, Stream: true, Retries: defaultRetries},
	{ID: "projects", Prefix: "/api/v1/projects", Service: "project", Retries: defaultRetries},
	{ID: "orders", Prefix: "/api/v1/orders", Service: "order", Retries: defaultRetries},
	{ID: "payments", Prefix: "/api/v1/payments", Service: "cashier", Retries: defaultRetries},
	// A campaign's money is the cashier's, under the project's path.
	{ID: "settlements", Pattern: "/api/v1/projects/*/settlement", Service: "cashier", Retries: defaultRetries},
	{ID: "project-payouts", Pattern: "/api/v1/projects/*/payouts", Service: "cashier", Retries: defaultRetries},
	{ID: "payouts", Prefix: "/api/v1/payouts", Service: "cashier", Retries: defaultRetries},
	{ID: "ledger", Prefix: "/api/v1/ledger", Service: "cashier", Retries: defaultRetries},
	{ID: "password-resets", Prefix: "/api/v1/password-resets", Service: "member", Retries: defaultRetries},
	{ID: "email-verifications", Prefix: "/api/v1/email-verifications", Service: "member", Retries: defaultRetries},
	{ID: "notifications", Prefix: "/api/v1/notifications", Service: "notify", Retries: defaultRetries},
	{ID: "messages", Prefix: "/api/v1/messages", Service: "notify", Retries: defaultRetries},
}

// Route defaults.
const (
	defaultTimeout = 30 * time.Second
	defaultMaxBody = 10 << 20
	defaultRetries = 2
)

func (r Route) withDefaults() Route {
	if r.Timeout <= 0 {
		r.Timeout = defaultTimeout
	}
	if r.MaxBody <= 0 {
		r.MaxBody = defaultMaxBody
	}
	if r.Retries < 0 {
		r.Retries = 0
	}
	return r
}

// matches reports whether the route takes a request, and how specific the
// match is (longer prefixes win).
func (r Route) matches(host, method, p string, header func(string) string) (bool, int) {
	if r.Host != "" && !strings.EqualFold(strings.Split(host, ":")[0], r.Host) {
		return false, 0
	}
	if len(r.Methods) > 0 && !contains(r.Methods, method) {
		return false, 0
	}
	if r.Header != "" {
		name, value, _ := strings.Cut(r.Header, "=")
		if header(name) != value {
			return false, 0
		}
	}
	switch {
	case r.Pattern != "":
		ok, _ := path.Match(r.Pattern, p)
		return ok, len(r.Pattern) + 1000 // an explicit pattern outranks prefixes
	case p == r.Prefix || strings.HasPrefix(p, strings.TrimSuffix(r.Prefix, "/")+"/"):
		return true, len(r.Prefix)
	}
	return false, 0
}

// target is the path the service receives.
func (r Route) target(p string) string {
	if r.StripPrefix != "" && strings.HasPrefix(p, r.StripPrefix) {
		return r.Rewrite + strings.TrimPrefix(p, r.StripPrefix)
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ParseRoutes reads gateway.routes[i].* keys from flat configuration.
// Problems are returned together; the caller keeps its last good routes.
func ParseRoutes(values map[string]string) ([]Route, error) {
	byIndex := map[int]map[string]string{}
	for k, v := range values {
		rest, ok := strings.CutPrefix(k, "gateway.routes[")
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, "].")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s: expected gateway.routes[N].field", k)
		}
		if byIndex[i] == nil {
			byIndex[i] = map[string]string{}
		}
		byIndex[i][field] = v
	}
	var idx []int
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var routes []Route
	var problems []string
	for _, i := range idx {
		r, err := parseRoute(byIndex[i])
		if err != nil {
			problems = append(problems, fmt.Sprintf("gateway.routes[%d]: %v", i, err))
			continue
		}
		routes = append(routes, r)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return routes, nil
}

func parseRoute(f map[string]string) (Route, error) {
	r := Route{ID: f["id"], Prefix: f["path"], Pattern: f["pattern"], Host: f["host"], Header: f["header"], Service: f["service"],
		StripPrefix: f["strip-prefix"], Rewrite: f["rewrite"], Auth: f["auth"], Retries: defaultRetries}
	for k, v := range f {
		if strings.HasPrefix(k, "methods[") {
			r.Methods = append(r.Methods, strings.ToUpper(v))
		}
	}
	var errs []string
	if r.Service == "" {
		errs = append(errs, "service is required")
	}
	if (r.Prefix == "") == (r.Pattern == "") {
		errs = append(errs, "give one of path (a prefix) or pattern")
	}
	if r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/") || r.Pattern != "" && !strings.HasPrefix(r.Pattern, "/") {
		errs = append(errs, "paths start with /")
	}
	if strings.HasPrefix(r.Prefix, "/actuator") || strings.HasPrefix(r.Prefix, "/internal") {
		errs = append(errs, "management and internal endpoints are never routed")
	}
	if r.Auth != "" && r.Auth != "required" && r.Auth != "optional" {
		errs = append(errs, "auth is required or optional")
	}
	if v := f["timeout"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 5*time.Minute {
			errs = append(errs, "timeout is a duration up to 5m")
		}
		r.Timeout = d
	}
	intField := func(name string, dst *int, lo, hi int) {
		if v := f[name]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				errs = append(errs, fmt.Sprintf("%s is a whole number from %d to %d", name, lo, hi))
			}
			*dst = n
		}
	}
	r.Stream = f["stream"] == "true"
	intField("retries", &r.Retries, 0, 5)
	intField("burst", &r.Burst, 1, 1_000_000)
	var maxBody int
	intField("max-body", &maxBody, 1, 100<<20)
	r.MaxBody = int64(maxBody)
	if v := f["rate"]; v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate <= 0 {
			errs = append(errs, "rate is requests per second, above 0")
		}
		r.Rate = rate
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("%s", strings.Join(errs, ", "))
	}
	if r.ID == "" {
		r.ID = r.Service + ":" + r.Prefix + r.Pattern
	}
	return r.withDefaults(), nil
}
