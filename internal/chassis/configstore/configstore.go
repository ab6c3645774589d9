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
