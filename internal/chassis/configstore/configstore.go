// Package configstore is the layout of configuration in the registry store
// and how a service reads its part. The config center writes one transaction
// per Git commit; services read all of it in one consistent read.
//
//	/sanshi/config/meta            {"revision": commit, "applied_at": ..., "changed": [...]}
//	/sanshi/config/sources/{name}  {"flat.key": "value", ...} for each file of the repo:
//	                               application, application-{profile}, {service}, {service}-{profile}
package configstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keys.
const (
	Prefix        = "/sanshi/config/"
	MetaKey       = Prefix + "meta"
	SourcesPrefix = Prefix + "sources/"
)

// Meta describes the configuration currently in the store.
type Meta struct {
	Revision  string    `json:"revision"`
	AppliedAt time.Time `json:"applied_at"`
	Changed   []string  `json:"changed,omitempty"`
	// SecretKeys were encrypted in Git; they are masked wherever shown.
	SecretKeys []string `json:"secret_keys,omitempty"`
	Message    string   `json:"message,omitempty"`
	Author     string   `json:"author,omitempty"`
}

// SourceNames lists the sources that make up a service's configuration,
// lowest precedence first (Spring Cloud Config order).
func SourceNames(service string, profiles []string) []string {
	names := []string{"application"}
	for _, p := range profiles {
		names = append(names, "application-"+p)
	}
	names = append(names, service)
	for _, p := range profiles {
		names = append(names, service+"-"+p)
	}
	return names
}

// Merge builds the effective values of a service from its sources.
func Merge(sources map[string]map[string]string, service string, profiles []string) map[string]string {
	out := map[string]string{}
	for _, name := range SourceNames(service, profiles) {
		for k, v := range sources[name] {
			out[k] = v
		}
	}
	return out
}

// Type of a declared configuration key.
type Type string

// Types a key may declare.
const (
	String   Type = "string"
	Int      Type = "int"
	Bool     Type = "bool"
	Duration Type = "duration"
)

// Key is a configuration key a service declares.
type Key struct {
	Name    string
	Type    Type
	Default string
	Restart bool // takes effect only after a restart
	// Min and Max bound an Int or a Duration (inclusive; "" = no bound).
	Min, Max string
}

// Schema is what a service declares about its configuration: typed keys,
// and a prefix under which unknown keys are errors (the config center
// rejects a commit that has them).
type Schema struct {
	Service string
	Strict  string // e.g. "order."; "" = no strict prefix
	Keys    []Key
	// Families are key prefixes the service reads without declaring each
	// key (the gateway's routes, weights and limits under "gateway.").
	Families []string
}

// Defaults are the declared keys' default values.
func (s Schema) Defaults() map[string]string {
	out := map[string]string{}
	for _, k := range s.Keys {
		out[k.Name] = k.Default
	}
	return out
}

// Restart reports whether a key takes effect only after a restart.
func (s Schema) Restart(key string) bool {
	for _, k := range s.Keys {
		if k.Name == key {
			return k.Restart
		}
	}
	return false
}

// Snapshot is the whole configuration store as of one etcd revision.
type Snapshot struct {
	Meta    Meta
	Sources map[string]map[string]string
}

// Read loads the configuration store in one consistent read. An empty store
// (no config center has written yet) is an empty snapshot, not an error.
func Read(ctx context.Context, cli *clientv3.Client) (Snapshot, error) {
	resp, err := cli.Get(ctx, Prefix, clientv3.WithPrefix())
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Sources: map[string]map[string]string{}}
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		switch {
		case key == MetaKey:
			if err := json.Unmarshal(kv.Value, &snap.Meta); err != nil {
				return Snapshot{}, fmt.Errorf("%s: %w", key, err)
			}
		case strings.HasPrefix(key, SourcesPrefix):
			vals := map[string]string{}
			if err := json.Unmarshal(kv.Value, &vals); err != nil {
				return Snapshot{}, fmt.Errorf("%s: %w", key, err)
			}
			snap.Sources[strings.TrimPrefix(key, SourcesPrefix)] = vals
		}
	}
	return snap, nil
}
