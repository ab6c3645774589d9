package console

import (
	"encoding/json"
	"net/http"
	"sort"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/registry"
)

// TargetGroup is one entry of Prometheus's HTTP service discovery
// (http_sd_configs): the addresses to scrape and the labels they get.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// PrometheusTargets turns the registry's instances into scrape targets:
// each instance's management address, labelled with its service, color and
// version, its id and registry status as meta labels (relabel the id to
// instance), and the metrics path of the chassis.
func PrometheusTargets(all map[string][]registry.Instance) []TargetGroup {
	out := []TargetGroup{}
	for _, ins := range all {
		for _, in := range ins {
			if in.MgmtAddress == "" {
				continue
			}
			// sanshi_* rather than service, color…: the gateway's own
			// metrics carry service, color and status labels of their own.
			out = append(out, TargetGroup{Targets: []string{in.MgmtAddress}, Labels: map[string]string{
				"__metrics_path__":          "/actuator/prometheus",
				"__meta_sanshi_instance_id": in.ID,
				"__meta_sanshi_status":      in.Status,
				"sanshi_service":            in.Service,
				"sanshi_color":              in.Color,
				"sanshi_version":            in.Version,
			}})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Labels["__meta_sanshi_instance_id"] < out[j].Labels["__meta_sanshi_instance_id"]
	})
	return out
}

// targets serves the scrape targets to Prometheus, which sends the
// management token (authorization.credentials_file in its configuration).
func (c *Console) targets(w http.ResponseWriter, r *http.Request) {
	if !auth.HasBearer(r, c.token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sanshi-management"`)
		errs.Write(w, errs.E(errs.Unauthorized, "a valid management token is required (Authorization: Bearer <token>)"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(PrometheusTargets(c.monitor.disc.All()))
}
