package service

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sanshi/internal/chassis/errs"
)

// faultKey makes a share of an instance's API requests fail with 500, so
// that a release can be tested against a version that goes wrong (set it in
// order-b.yaml, say). It never applies under the prod profile.
const faultKey = "fault.error-percent"

// withFaults wraps the public handler with the injected failures.
func withFaults(rt *Runtime, next http.Handler) http.Handler {
	if slices.ContainsFunc(rt.Boot.Profiles, func(p string) bool { return p == "prod" || p == "production" }) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			v, _ := rt.Props.Get(faultKey)
			if pct, err := strconv.Atoi(v); err == nil && pct > 0 && rand.IntN(100) < pct { // #nosec G404 -- test faults, not security
				errs.Write(w, errs.E(errs.Internal, "injected fault (%s=%d)", faultKey, pct))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
