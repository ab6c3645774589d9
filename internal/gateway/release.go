package gateway

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"sanshi/internal/chassis/httpx"
)

// Gray release. Every instance has a color (A or B). When the configuration
// gives weights for a service (gateway.weights.order.A: 90, .B: 10), each
// caller is put on one color: a member by id, a visitor by the visitor
// cookie. The same caller lands on the same color while the weights stay
// the same. Testers pick a color with the X-Sanshi-Color header or the
// sanshi_color cookie.

// Weights are per service, per color, in percent.
type Weights map[string]map[string]int

// ParseWeights reads gateway.weights.<service>.<color> keys.
func ParseWeights(values map[string]string) (Weights, error) {
	w := Weights{}
	for k, v := range values {
		rest, ok := strings.CutPrefix(k, "gateway.weights.")
		if !ok {
			continue
		}
		svc, color, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(v)
		if !ok || (color != "A" && color != "B") || err != nil || n < 0 || n > 100 {
			return nil, fmt.Errorf("%s: expected gateway.weights.SERVICE.A|B = 0..100", k)
		}
		if w[svc] == nil {
			w[svc] = map[string]int{}
		}
		w[svc][color] = n
	}
	for svc, cw := range w {
		if cw["A"]+cw["B"] == 0 {
			return nil, fmt.Errorf("gateway.weights.%s: the weights add up to 0", svc)
		}
	}
	return w, nil
}

// Cookies the gateway reads and sets.
const (
	ColorCookie   = "sanshi_color"
	VisitorCookie = "sanshi_visitor"
	ColorHeader   = "X-Sanshi-Color"
)

// color chooses the color a caller's request to service goes to ("" = any).
func (w Weights) color(service, caller string, r *http.Request) string {
	if c := strings.ToUpper(r.Header.Get(ColorHeader)); c == "A" || c == "B" {
		return c
	}
	if v, _ := httpx.Cookie(r, ColorCookie); v == "A" || v == "B" {
		return v
	}
	cw, ok := w[service]
	if !ok {
		return ""
	}
	total := cw["A"] + cw["B"]
	// The weights take part in the hash's bucket only through the
	// threshold: while they stay, the caller's bucket and color stay.
	if bucket(service, caller)%total < cw["A"] {
		return "A"
	}
	return "B"
}

func bucket(service, caller string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(service + "|" + caller)) // a hash never fails to write
	return int(h.Sum32() % 1_000_003)
}
