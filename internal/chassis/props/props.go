// Package props holds a service's effective configuration: defaults declared
// by the service, then what the config center serves, then runtime overrides
// set through /actuator/env. Later layers win.
package props

import (
	"net/url"
	"sanshi/internal/chassis/redact"
	"strings"
	"sync"
)

// Layer names, lowest precedence first. Environment variables override the
// config center; runtime overrides (from the console) override both.
const (
	Defaults    = "defaults"
	Center      = "configCenter"
	Environment = "environment"
	Overrides   = "runtimeOverrides"
)

var order = []string{Defaults, Center, Environment, Overrides}

// EnvName is the environment variable that overrides a key (Spring's relaxed
// binding): cashier.alipay.app-id → CASHIER_ALIPAY_APP_ID.
func EnvName(key string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// FromEnvironment takes, for every key declared in the defaults, the value
// of its environment variable when set.
func (p *Props) FromEnvironment(getenv func(string) string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	env := map[string]string{}
	for k := range p.layers[Defaults] {
		if v := getenv(EnvName(k)); v != "" {
			env[k] = v
		}
	}
	p.layers[Environment] = env
}

// Props is safe for concurrent use.
type Props struct {
	mu       sync.RWMutex
	layers   map[string]map[string]string
	revision string
}

// New starts with defaults.
func New(defaults map[string]string) *Props {
	p := &Props{layers: map[string]map[string]string{}}
	p.layers[Defaults] = clone(defaults)
	return p
}

// Get returns the effective value of key.
func (p *Props) Get(key string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for i := len(order) - 1; i >= 0; i-- {
		if v, ok := p.layers[order[i]][key]; ok {
			return v, true
		}
	}
	return "", false
}

// SetCenter replaces what came from the config center and records its revision.
func (p *Props) SetCenter(values map[string]string, revision string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.layers[Center] = clone(values)
	p.revision = revision
}

// Revision is the config center revision applied, or "".
func (p *Props) Revision() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.revision
}

// Override sets a runtime override; it lives until the process stops.
func (p *Props) Override(key, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.layers[Overrides] == nil {
		p.layers[Overrides] = map[string]string{}
	}
	p.layers[Overrides][key] = value
}

// ClearOverride removes a runtime override and reports whether there was one.
func (p *Props) ClearOverride(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.layers[Overrides][key]
	delete(p.layers[Overrides], key)
	return ok
}

// Source is one layer as shown by /actuator/env.
type Source struct {
	Name       string            `json:"name"`
	Properties map[string]string `json:"properties"`
}

// Sources returns every layer, highest precedence first, with secret values
// masked.
func (p *Props) Sources() []Source {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []Source
	for i := len(order) - 1; i >= 0; i-- {
		m := map[string]string{}
		for k, v := range p.layers[order[i]] {
			m[k] = MaskValue(k, v)
		}
		out = append(out, Source{Name: order[i], Properties: m})
	}
	return out
}

// Values returns every key's effective value, unmasked (for comparisons).
func (p *Props) Values() map[string]string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := map[string]string{}
	for _, name := range order {
		for k, v := range p.layers[name] {
			out[k] = v
		}
	}
	return out
}

// Effective returns every key's effective value, secrets masked. The values
// come from one snapshot (Values), so a reader never sees two config
// revisions mixed.
func (p *Props) Effective() map[string]string {
	out := p.Values()
	for k, v := range out {
		out[k] = MaskValue(k, v)
	}
	return out
}

var secretWords = []string{"password", "passwd", "secret", "token", "key", "credential", "private", "webhook", "signature"}

// IsSecret reports whether a key names a secret by its wording.
func IsSecret(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// MaskValue hides the value of a secret key and any {cipher} value, and the
// credentials inside a URL value (see MaskURLValue).
func MaskValue(key, value string) string {
	if value != "" && (IsSecret(key) || strings.HasPrefix(value, "{cipher}")) {
		return "******"
	}
	return MaskURLValue(value)
}

// MaskURLValue hides what a URL carries that works as a credential (see
// redact.URL). Anything that is not an absolute URL is returned as it is.
func MaskURLValue(value string) string {
	if !strings.Contains(value, "://") {
		return value
	}
	if u, err := url.Parse(value); err != nil || u.Host == "" {
		return value
	}
	return redact.URL(value)
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
