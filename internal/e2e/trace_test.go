package e2e

import (
	"sort"
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestAPledgeAndItsPaymentAreOneTrace: with SANSHI_OTLP_ENDPOINT set, a
// pledge and its payment make one trace, exported by every service to a
// real OTLP/HTTP receiver: the gateway's request, the order service's, its
// calls to the member service (the address) and the project service (the
// units), and later, continued from what was stored, the cashier's
// delivery of "paid" through its outbox and the order's and project's
// handling of it. The trace id is the request id that the answer and the
// access lines carry.
func TestAPledgeAndItsPaymentAreOneTrace(t *testing.T) {
	rx := testkit.StartOTLPReceiver(t)
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, Env: []string{"SANSHI_OTLP_ENDPOINT=" + rx.URL}})
	projectID, rewardID, _ := p.LiveProject(t, 10)
	backer, addr := p.Backer(t, "traced@example.cn")

	r := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900, "address_id": addr},
		"Idempotency-Key", "traced")
	order, traceID := r.Field("id"), r.Header.Get("X-Request-Id")
	if len(traceID) != 32 {
		t.Fatalf("the pledge's request id %q is not a trace id", traceID)
	}
	backer.PaySandbox(t, order, "pay")
	backer.WaitOrder(t, order, "paid")

	want := []string{
		"gateway server POST /api/",
		"order server POST /api/v1/orders",
		"order client GET member",
		"member server GET /internal/v1/members/{id}/addresses/{address}",
		"order client PUT project",
		"project server PUT /internal/v1/projects/{id}/pledges/{order}",
		"cashier consumer outbox delivery to order",
		"order server POST /internal/v1/orders/{id}/paid",
		"order consumer outbox delivery to project",
	}
	var have, missing []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		have, missing = have[:0], missing[:0]
		for _, s := range rx.Trace(traceID) {
			have = append(have, s.Service+" "+strings.TrimPrefix(strings.ToLower(s.Kind), "span_kind_")+" "+s.Name)
		}
		sort.Strings(have)
		for _, w := range want {
			if !containsPrefix(have, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pledge's trace lacks\n%s\nit has\n%s", strings.Join(missing, "\n"), strings.Join(have, "\n"))
		}
	}
	services := map[string]bool{}
	for _, s := range rx.Trace(traceID) {
		services[s.Service] = true
		if s.Failed {
			t.Errorf("a failed span in a successful pledge: %+v", s)
		}
	}
	for _, svc := range []string{"gateway", "order", "member", "project", "cashier"} {
		if !services[svc] {
			t.Errorf("no span from %s in the trace:\n%s", svc, strings.Join(have, "\n"))
		}
	}
	t.Logf("the pledge's trace %s: %d spans\n%s", traceID, len(have), strings.Join(have, "\n"))
	if log := p.Procs["order"][0].Log.String(); !strings.Contains(log, `"request_id":"`+traceID+`"`) {
		t.Error("the order service's access line does not carry the trace id")
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
