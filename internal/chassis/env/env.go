// Package env reads a process's bootstrap settings from the environment
// (factor III) into a typed struct. A bad value is an error that names the
// variable and what it expected; secrets are held in a type that never prints.
package env

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sanshi/internal/chassis/redact"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Secret holds a value that must never be printed, logged or shown unmasked.
type Secret struct{ value string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{v} }

// Reveal returns the value for the one place that needs it.
func (s Secret) Reveal() string { return s.value }

// Set reports whether the secret has a value.
func (s Secret) Set() bool { return s.value != "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "******"
}

// MarshalJSON keeps secrets masked in every JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// LogValue keeps secrets masked in logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Bootstrap is what a process needs before it can reach the registry and the
// config center. Everything else comes from the config center.
type Bootstrap struct {
	Service       string        `json:"service"`
	InstanceID    string        `json:"instance_id"`
	Version       string        `json:"version"`
	Color         string        `json:"color"`
	Profiles      []string      `json:"profiles"`
	Registry      []string      `json:"registry"`
	Listen        string        `json:"listen"`
	MgmtListen    string        `json:"mgmt_listen"`
	AdvertiseHost string        `json:"advertise_host"`
	DataDir       string        `json:"data_dir"`
	DatabaseURL   Secret        `json:"database_url"`
	RedisURL      Secret        `json:"redis_url"`
	MgmtToken     Secret        `json:"mgmt_token"`
	InternalKey   Secret        `json:"internal_key"`
	LogLevel      slog.Level    `json:"log_level"`
	LogFormat     string        `json:"log_format"`
	DrainTimeout  time.Duration `json:"drain_timeout"`
	LeaseTTL      time.Duration `json:"lease_ttl"`
	// RegistryUser and RegistryPassword log in to etcd when authentication
	// is on; RegistryCA, RegistryCert and RegistryKey are PEM files for TLS
	// to etcd (CA alone: server TLS; with cert and key: mutual TLS).
	RegistryUser     string `json:"registry_user"`
	RegistryPassword Secret `json:"registry_password"`
	RegistryCA       string `json:"registry_ca"`
	RegistryCert     string `json:"registry_cert"`
	RegistryKey      string `json:"registry_key"`
	// TLSCert and TLSKey make the public listener serve HTTPS (the gateway).
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// HTTPServer picks the plain-HTTP server: "sanshi" (the chassis's fast
	// path, handing anything irregular to net/http) or "std" (net/http
	// alone).
	HTTPServer string `json:"http_server"`
	// OTLPEndpoint is where spans go (OTLP over HTTP); empty: no tracing.
	// TraceRatio is the share of new traces kept.
	OTLPEndpoint string  `json:"otlp_endpoint"`
	TraceRatio   float64 `json:"trace_ratio"`
	// TrustedProxies are the networks whose X-Forwarded-For and
	// X-Forwarded-Proto the edge believes.
	TrustedProxies []netip.Prefix `json:"trusted_proxies"`
	// Restarts and LastExit are told by a supervisor that restarted this
	// instance (sanshi dev): how often, and how the last process ended.
	Restarts int    `json:"restarts"`
	LastExit string `json:"last_exit"`
	// SMTPURL is the mail server the notification service sends through
	// (smtp://user@host:587 with STARTTLS, smtps://host:465); empty: mail
	// is kept in an mbox file a day under the data folder. SMTPPassword, when
	// set, replaces the URL's password; MailFrom is the sender's address.
	SMTPURL      Secret `json:"smtp_url"`
	SMTPPassword Secret `json:"smtp_password"`
	MailFrom     string `json:"mail_from"`
	// Getenv reads the rest of the environment (configuration overrides).
	Getenv func(string) string `json:"-"`
}

// Var documents one environment variable; Vars is the list the README and
// `sanshi help env` show.
type Var struct{ Name, Default, Meaning string }

// Vars lists every variable a service reads at start.
var Vars = []Var{
	{"SANSHI_REGISTRY", "127.0.0.1:2379", "etcd endpoints, comma-separated (host:port or http://host:port)"},
	{"SANSHI_PROFILES", "default", "config profiles, comma-separated, e.g. prod; the color's profile (a or b) is added"},
	{"SANSHI_COLOR", "A", "release color of this instance: A or B"},
	{"SANSHI_VERSION", "build version", "version this instance announces"},
	{"SANSHI_INSTANCE_ID", "service-host-pid", "unique id of this instance in the registry"},
	{"SANSHI_LISTEN", "127.0.0.1:0", "public listen address (port 0 = a free port)"},
	{"SANSHI_MGMT_LISTEN", "127.0.0.1:0", "management (/actuator) listen address"},
	{"SANSHI_ADVERTISE_HOST", "the listen host, or 127.0.0.1", "host other services use to reach this one (a pod IP on Kubernetes)"},
	{"SANSHI_DATA_DIR", ".sanshi", "folder for local state (SQLite files, uploads)"},
	{"DATABASE_URL", "sqlite:$SANSHI_DATA_DIR/<service>.db", "sqlite:PATH or postgres://user:pass@host/db"},
	{"DATABASE_PASSWORD", "(none)", "password put into a postgres DATABASE_URL that names only the user (secret)"},
	{"REDIS_URL", "(none)", "redis://host:6379/0 for shared cache and counters"},
	{"SANSHI_MGMT_TOKEN", "(none: changes refused)", "token that management changes must carry (secret)"},
	{"SANSHI_INTERNAL_KEY", "(none: a random key per process)", "key (32+ characters) that signs identities between services; the same on every instance (secret)"},
	{"SANSHI_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"SANSHI_LOG_FORMAT", "auto", "json, text, or auto (text on a terminal)"},
	{"SANSHI_DRAIN_TIMEOUT", "10s", "how long a stopping instance finishes in-flight requests"},
	{"SANSHI_LEASE_TTL", "2s", "registry lease; a crashed instance disappears within about this long"},
	{"SANSHI_REGISTRY_USER", "(none: no etcd authentication)", "etcd user (its role limited to /sanshi/)"},
	{"SANSHI_REGISTRY_PASSWORD", "(none)", "etcd password (secret); SANSHI_REGISTRY_PASSWORD_FILE reads it from a file"},
	{"SANSHI_REGISTRY_CA", "(none: plain connection)", "PEM file of the CA that signed etcd's certificate (TLS to etcd)"},
	{"SANSHI_REGISTRY_CERT", "(none)", "PEM client certificate for etcd (mutual TLS), with SANSHI_REGISTRY_KEY"},
	{"SANSHI_REGISTRY_KEY", "(none)", "PEM private key of SANSHI_REGISTRY_CERT"},
	{"SANSHI_TLS_CERT", "(none: plain HTTP)", "PEM certificate (chain) for HTTPS on the public listener, with SANSHI_TLS_KEY"},
	{"SANSHI_TLS_KEY", "(none)", "PEM private key of SANSHI_TLS_CERT"},
	{"SANSHI_HTTP_SERVER", "sanshi", "plain-HTTP server: sanshi (the fast path, irregular requests to net/http) or std (net/http alone)"},
	{"SANSHI_OTLP_ENDPOINT", "(none: no tracing)", "OTLP/HTTP receiver of the traces, e.g. http://jaeger:4318 (docs/observability.md)"},
	{"SANSHI_TRACE_API", "(none)", "the console: Jaeger's query API (http://jaeger:16686), from which it draws a trace"},
	{"SANSHI_TRACE_RATIO", "1", "share of new traces kept, 0 to 1 (a continued trace keeps its caller's choice)"},
	{"SANSHI_RESTARTS", "0", "set by a supervisor: how many times it restarted this instance (the console shows it)"},
	{"SANSHI_LAST_EXIT", "(none)", "set by a supervisor: how the previous process ended, e.g. exit status 2"},
	{"SANSHI_SMTP_URL", "(none: mail kept in an mbox file a day under $SANSHI_DATA_DIR/mail)", "mail server of the notification service: smtp://user@host:587 (STARTTLS) or smtps://user@host:465 (secret)"},
	{"SANSHI_SMTP_PASSWORD", "(none)", "password of the SMTP user, replacing the URL's (secret; SANSHI_SMTP_PASSWORD_FILE reads it from a file)"},
	{"SANSHI_MAIL_FROM", "三拾众筹 <noreply@sanshi.local>", "sender of the platform's mail (RFC 5322 address)"},
	{"SANSHI_TRUSTED_PROXIES", "(none)", "CIDRs of load balancers whose X-Forwarded-For/-Proto the gateway believes, e.g. 10.0.0.0/8"},
}

// Parse reads the bootstrap settings of service. buildVersion is the version
// compiled into the binary. All problems are reported together.
func Parse(service, buildVersion string, getenv func(string) string) (Bootstrap, error) {
	p := parser{getenv: getenv}
	b := Bootstrap{Service: service, Getenv: getenv}
	b.Registry = p.list("SANSHI_REGISTRY", "127.0.0.1:2379", "comma-separated etcd endpoints (host:port)", validEndpoint)
	b.Profiles = p.list("SANSHI_PROFILES", "default", "comma-separated profile names (letters, digits, - and _)", validName)
	b.Color = p.oneOf("SANSHI_COLOR", "A", "A", "B")
	// A color's instances also read the profile named after it (order-b.yaml
	// over order.yaml), so the two colors of a gray release can differ.
	if c := strings.ToLower(b.Color); !slices.Contains(b.Profiles, c) {
		b.Profiles = append(b.Profiles, c)
	}
	b.Version = p.str("SANSHI_VERSION", buildVersion)
	b.Listen = p.addr("SANSHI_LISTEN", "127.0.0.1:0")
	b.MgmtListen = p.addr("SANSHI_MGMT_LISTEN", "127.0.0.1:0")
	b.AdvertiseHost = p.str("SANSHI_ADVERTISE_HOST", "")
	b.DataDir = p.str("SANSHI_DATA_DIR", ".sanshi")
	b.DatabaseURL = NewSecret(p.dbURL("DATABASE_URL", "sqlite:"+filepath.Join(b.DataDir, service+".db")))
	b.RedisURL = NewSecret(p.redisURL("REDIS_URL"))
	b.MgmtToken = NewSecret(p.str("SANSHI_MGMT_TOKEN", ""))
	b.InternalKey = NewSecret(p.str("SANSHI_INTERNAL_KEY", ""))
	if k := b.InternalKey.Reveal(); k != "" && len(k) < 32 {
		p.fail("SANSHI_INTERNAL_KEY", "at least 32 characters", "(hidden)")
	}
	b.LogLevel = p.level("SANSHI_LOG_LEVEL", slog.LevelInfo)
	b.LogFormat = p.oneOf("SANSHI_LOG_FORMAT", "auto", "auto", "json", "text")
	b.DrainTimeout = p.duration("SANSHI_DRAIN_TIMEOUT", 10*time.Second, 0, 10*time.Minute)
	b.LeaseTTL = p.duration("SANSHI_LEASE_TTL", 2*time.Second, 2*time.Second, time.Minute)
	b.RegistryUser = p.str("SANSHI_REGISTRY_USER", "")
	b.RegistryPassword = NewSecret(p.secret("SANSHI_REGISTRY_PASSWORD"))
	if b.RegistryUser != "" && !b.RegistryPassword.Set() {
		p.fail("SANSHI_REGISTRY_PASSWORD", "a password (or SANSHI_REGISTRY_PASSWORD_FILE) with SANSHI_REGISTRY_USER", "(empty)")
	}
	b.RegistryCA = p.file("SANSHI_REGISTRY_CA")
	b.RegistryCert = p.file("SANSHI_REGISTRY_CERT")
	b.RegistryKey = p.file("SANSHI_REGISTRY_KEY")
	if (b.RegistryCert == "") != (b.RegistryKey == "") {
		p.fail("SANSHI_REGISTRY_CERT", "a certificate and a key together (SANSHI_REGISTRY_KEY)", b.RegistryCert)
	}
	b.TLSCert = p.file("SANSHI_TLS_CERT")
	b.TLSKey = p.file("SANSHI_TLS_KEY")
	if (b.TLSCert == "") != (b.TLSKey == "") {
		p.fail("SANSHI_TLS_CERT", "a certificate and a key together (SANSHI_TLS_KEY)", b.TLSCert)
	}
	b.HTTPServer = p.oneOf("SANSHI_HTTP_SERVER", "sanshi", "sanshi", "std")
	b.TrustedProxies = p.prefixes("SANSHI_TRUSTED_PROXIES")
	b.OTLPEndpoint = p.str("SANSHI_OTLP_ENDPOINT", "")
	b.TraceRatio = p.ratio("SANSHI_TRACE_RATIO", 1)
	b.SMTPURL = NewSecret(p.smtpURL("SANSHI_SMTP_URL"))
	b.SMTPPassword = NewSecret(p.secret("SANSHI_SMTP_PASSWORD"))
	b.MailFrom = p.str("SANSHI_MAIL_FROM", "三拾众筹 <noreply@sanshi.local>")
	if _, err := mail.ParseAddress(b.MailFrom); err != nil {
		p.fail("SANSHI_MAIL_FROM", "an address such as 三拾众筹 <noreply@example.cn>", b.MailFrom)
	}
	if v := p.str("SANSHI_RESTARTS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			p.fail("SANSHI_RESTARTS", "a whole number from 0", v)
		}
		b.Restarts = n
	}
	if b.LastExit = p.str("SANSHI_LAST_EXIT", ""); len(b.LastExit) > 200 {
		b.LastExit = b.LastExit[:200]
	}
	b.InstanceID = p.str("SANSHI_INSTANCE_ID", "")
	if b.InstanceID != "" && !validName(b.InstanceID) {
		p.fail("SANSHI_INSTANCE_ID", "letters, digits, '-', '_' and '.'", b.InstanceID)
	}
	if len(p.errs) > 0 {
		return b, errors.Join(p.errs...)
	}
	return b, nil
}

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, expected, got string) {
	p.errs = append(p.errs, fmt.Errorf("%s: expected %s, got %q", name, expected, got))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := p.str(name, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	p.fail(name, "one of "+strings.Join(allowed, ", "), v)
	return def
}

func (p *parser) list(name, def, expected string, valid func(string) bool) []string {
	var out []string
	for _, part := range strings.Split(p.str(name, def), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !valid(part) {
			p.fail(name, expected, p.getenv(name))
			return nil
		}
		out = append(out, part)
	}
	return out
}

// secret reads a secret from NAME, or from the file named by NAME_FILE (how
// Kubernetes and Docker hand secrets to a process).
func (p *parser) secret(name string) string {
	if v := p.getenv(name); v != "" {
		return v
	}
	f := p.getenv(name + "_FILE")
	if f == "" {
		return ""
	}
	b, err := os.ReadFile(f) // #nosec G304 -- the operator names the file
	if err != nil {
		p.fail(name+"_FILE", "a readable file", f)
		return ""
	}
	return strings.TrimSpace(string(b))
}

// smtpURL reads a mail server's URL: smtp:// or smtps://, a host and a port.
func (p *parser) smtpURL(name string) string {
	v := p.secret(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || u.Port() == "" {
		p.fail(name, "smtp://[user[:password]@]host:port or smtps://…", redact.URL(v))
		return ""
	}
	return v
}

// file reads a path that must name a readable file.
func (p *parser) file(name string) string {
	f := p.getenv(name)
	if f == "" {
		return ""
	}
	if _, err := os.Stat(f); err != nil {
		p.fail(name, "a readable file", f)
	}
	return f
}

// prefixes reads comma-separated CIDRs (a bare address is one host).
func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, part := range strings.Split(p.getenv(name), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pf, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				p.fail(name, "CIDRs such as 10.0.0.0/8, comma-separated", part)
				return nil
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pf.Masked())
	}
	return out
}

func (p *parser) addr(name, def string) string {
	v := p.str(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
		p.fail(name, "host:port with a port from 0 to 65535", v)
		return def
	}
	return v
}

func (p *parser) level(name string, def slog.Level) slog.Level {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.fail(name, "debug, info, warn or error", v)
		return def
	}
	return l
}

func (p *parser) ratio(name string, def float64) float64 {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		p.fail(name, "a share from 0 to 1, such as 0.1", v)
		return def
	}
	return f
}

func (p *parser) duration(name string, def, min, max time.Duration) time.Duration {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		p.fail(name, fmt.Sprintf("a duration from %s to %s such as 10s", min, max), v)
		return def
	}
	return d
}

func (p *parser) dbURL(name, def string) string {
	v := p.str(name, def)
	switch {
	case strings.HasPrefix(v, "sqlite:") && len(v) > len("sqlite:"):
		return v
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err == nil {
			return v
		}
	}
	// Never echo a database URL: it may carry a password.
	p.fail(name, "sqlite:PATH or postgres://user:pass@host:port/db", MaskURL(v))
	return def
}

func (p *parser) redisURL(name string) string {
	v := p.str(name, "")
	if v == "" {
		return ""
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		p.fail(name, "redis://[:password@]host:port[/db]", MaskURL(v))
		return ""
	}
	return v
}

// MaskURL hides the password of a URL and what else in it works as a
// credential (see redact.URL).
func MaskURL(raw string) string { return redact.URL(raw) }

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

func validEndpoint(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://")
	_, port, err := net.SplitHostPort(s)
	return err == nil && validPort(port) && port != "0"
}

func validName(s string) bool {
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return s != ""
}
