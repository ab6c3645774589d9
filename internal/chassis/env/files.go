package env

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// SecretVars are the variables that may instead be given as a file, NAME_FILE
// naming it: how Docker (compose secrets) and Kubernetes hand secrets to a
// process, so that no secret sits in a compose file, a manifest or an image.
var SecretVars = []string{
	"DATABASE_URL", "DATABASE_PASSWORD", "REDIS_URL", "SANSHI_MGMT_TOKEN", "SANSHI_INTERNAL_KEY",
	"SANSHI_REGISTRY_PASSWORD", "SANSHI_REGISTRY_ROOT_PASSWORD", "SANSHI_CONFIG_WEBHOOK_SECRET",
	"SANSHI_CONFIG_ENCRYPT_KEY", "SANSHI_CONFIG_REPO_PASSWORD", "SANSHI_OPERATOR_PASSWORD",
	"SANSHI_SMTP_URL", "SANSHI_SMTP_PASSWORD",
}

// WithSecretFiles returns getenv with every SecretVars variable that is unset
// but has NAME_FILE read from that file (trailing white space trimmed), and
// with DATABASE_PASSWORD put into a postgres DATABASE_URL that has none, so
// the URL itself can stay in plain configuration. A file that cannot be read
// is an error naming the variable.
func WithSecretFiles(getenv func(string) string) (func(string) string, error) {
	set := map[string]string{}
	for _, name := range SecretVars {
		if getenv(name) != "" {
			continue
		}
		f := getenv(name + "_FILE")
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f) // #nosec G304 -- the operator names the file
		if err != nil {
			return nil, fmt.Errorf("%s_FILE: cannot read %s: %w", name, f, err)
		}
		set[name] = strings.TrimSpace(string(b))
	}
	lookup := func(name string) string {
		if v, ok := set[name]; ok {
			return v
		}
		return getenv(name)
	}
	if pw := lookup("DATABASE_PASSWORD"); pw != "" {
		u, err := url.Parse(lookup("DATABASE_URL"))
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.User == nil {
			return nil, fmt.Errorf("DATABASE_PASSWORD: needs DATABASE_URL postgres://USER@host:port/db")
		}
		if _, has := u.User.Password(); !has {
			u.User = url.UserPassword(u.User.Username(), pw)
			set["DATABASE_URL"] = u.String()
		}
	}
	return lookup, nil
}
