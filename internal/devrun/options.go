// Package devrun is `sanshi dev`: the whole platform on one machine, every
// service as its own supervised process around an embedded etcd node.
package devrun

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// Order is the start order; services stop in reverse.
var Order = []string{"config", "member", "project", "cashier", "order", "notify", "console", "gateway"}

// Options are the flags of `sanshi dev`.
type Options struct {
	DataDir     string
	SitePort    int
	ConsolePort int
	ConfigPort  int
	EtcdPort    int
	Replicas    map[string]int
	// Colors per service: "A" (default), "B", or "A+B" (both, each with
	// the service's replicas).
	Colors     map[string]string
	Executable string // the sanshi binary the children run
	// SMTP is a mail server (host:port) the platform's mail goes to; empty:
	// the mail is kept in an mbox file a day under DataDir/mail.
	SMTP string
}

// ParseFlags reads the command line of `sanshi dev`.
func ParseFlags(args []string, stderr io.Writer) (Options, error) {
	o := Options{Replicas: map[string]int{}}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.DataDir, "data", ".sanshi", "folder for all local state")
	fs.IntVar(&o.SitePort, "site-port", 8080, "port of the site and API (gateway)")
	fs.IntVar(&o.ConsolePort, "console-port", 8090, "port of the service console")
	fs.IntVar(&o.ConfigPort, "config-port", 8888, "port of the config center")
	fs.IntVar(&o.EtcdPort, "etcd-port", 2379, "client port of the embedded etcd")
	replicas := fs.String("replicas", "", "instances per service, e.g. order=2,project=2")
	colors := fs.String("color", "", "release colors per service, e.g. order=A+B (both) or order=B")
	fs.StringVar(&o.SMTP, "smtp", "", "send the platform's mail to this SMTP server (host:port, e.g. 127.0.0.1:1025 for Mailpit); default: an mbox file a day in the data folder")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"site-port", o.SitePort}, {"console-port", o.ConsolePort}, {"config-port", o.ConfigPort}, {"etcd-port", o.EtcdPort}} {
		if p.v < 1 || p.v > 65535 {
			return o, fmt.Errorf("--%s: expected a port from 1 to 65535, got %d", p.name, p.v)
		}
	}
	if o.SMTP != "" {
		if _, port, err := net.SplitHostPort(o.SMTP); err != nil || port == "" {
			return o, fmt.Errorf("--smtp: expected host:port, got %q", o.SMTP)
		}
	}
	var err error
	if o.Replicas, err = ParseReplicas(*replicas); err != nil {
		return o, err
	}
	o.Colors, err = parseColors(*colors)
	return o, err
}

func parseColors(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, c, ok := strings.Cut(part, "=")
		known := false
		for _, svc := range Order {
			known = known || svc == name
		}
		if !ok || !known || (c != "A" && c != "B" && c != "A+B") {
			return nil, fmt.Errorf("--color: expected SERVICE=A, SERVICE=B or SERVICE=A+B, got %q", part)
		}
		out[name] = c
	}
	return out, nil
}

// ParseReplicas reads SERVICE=N,SERVICE=N.
func ParseReplicas(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, svc := range Order {
		out[svc] = 1
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, num, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(num)
		if _, known := out[name]; !ok || !known || err != nil || n < 1 || n > 16 {
			return nil, fmt.Errorf("--replicas: expected SERVICE=N with a service of %s and N from 1 to 16, got %q",
				strings.Join(Order, ", "), part)
		}
		out[name] = n
	}
	return out, nil
}
