package console_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestAPledgesTraceInJaegerAndTheConsole: the money services and the
// console send their spans to a real Jaeger; a pledge and its payment are
// one trace there, and the console draws it as a waterfall from Jaeger's
// query API — the gateway's request at the top, the cashier's delivery of
// "paid" below — in Chinese by default; a trace Jaeger lacks and a string
// that is no trace id are 404 pages.
func TestAPledgesTraceInJaegerAndTheConsole(t *testing.T) {
	j := testkit.StartJaeger(t)
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: append(append([]string(nil), testkit.MoneyServices...), "console"),
		Env: []string{"SANSHI_OTLP_ENDPOINT=" + j.OTLP, "SANSHI_TRACE_API=" + j.Query}})
	projectID, rewardID, _ := p.LiveProject(t, 5)
	backer, addr := p.Backer(t, "jaeger@example.cn")
	r := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900, "address_id": addr},
		"Idempotency-Key", "jaeger")
	order, traceID := r.Field("id"), r.Header.Get("X-Request-Id")
	backer.PaySandbox(t, order, "pay")
	backer.WaitOrder(t, order, "paid")

	var services map[string]bool
	testkit.Eventually(t, 30*time.Second, "the pledge's trace in Jaeger with the cashier's delivery", func() bool {
		services = jaegerServices(t, j.Query, traceID)
		return services["gateway"] && services["order"] && services["member"] && services["project"] && services["cashier"]
	})

	p.Operator(t, "ops-trace@example.cn")
	con := testkit.ConsoleSession(t, "http://"+p.Instance("console", 0).Instance.Address, "ops-trace@example.cn", "correct horse")
	page := con.Get(t, "/traces/"+traceID)
	for _, want := range []string{`id="waterfall"`, `data-service="gateway"`, `data-service="cashier"`, "outbox delivery to order", "调用链", traceID} {
		if !strings.Contains(page, want) {
			t.Errorf("the console's trace page lacks %q", want)
		}
	}
	if strings.Contains(page, `class="span failed"`) {
		t.Error("a span of a successful pledge is drawn as failed")
	}
	if i, k := strings.Index(page, `data-service="gateway"`), strings.Index(page, "outbox delivery to order"); i < 0 || k < i {
		t.Error("the waterfall does not start with the gateway's request")
	}
	if code, body := con.GetStatus(t, "/traces/0123456789abcdef0123456789abcdef"); code != http.StatusNotFound || !strings.Contains(body, "找不到这条调用链") {
		t.Errorf("a trace Jaeger does not have: %d", code)
	}
	if code, _ := con.GetStatus(t, "/traces/not-a-trace"); code != http.StatusNotFound {
		t.Errorf("a string that is no trace id: %d", code)
	}

	// A failed request shows on its instance's page with a link to its
	// trace, where the failure is drawn in red.
	orderProc := p.Instance("order", 0)
	if code, body := testkit.Do(t, "POST", "http://"+orderProc.Instance.MgmtAddress+"/actuator/env", testkit.MgmtToken,
		map[string]string{"name": "fault.error-percent", "value": "100"}); code != 200 {
		t.Fatalf("fault override: %d %s", code, body)
	}
	failed := backer.Do("GET", "/api/v1/orders", nil)
	if failed.Status != 500 {
		t.Fatalf("with every request failing, the orders answered %d", failed.Status)
	}
	failedID := failed.Header.Get("X-Request-Id")
	testkit.Eventually(t, 10*time.Second, "the failed request on the order instance's page", func() bool {
		return strings.Contains(con.Get(t, "/instances/order/"+orderProc.Instance.ID), `href="/traces/`+failedID+`"`)
	})
	testkit.Eventually(t, 30*time.Second, "the failed request's trace drawn with its failure", func() bool {
		return strings.Contains(con.Get(t, "/traces/"+failedID), `class="span failed"`)
	})
}

// jaegerServices lists the services with spans in a trace, from Jaeger's
// query API.
func jaegerServices(t *testing.T, query, traceID string) map[string]bool {
	resp, err := http.Get(query + "/api/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Data []struct {
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&got)
	out := map[string]bool{}
	for _, d := range got.Data {
		for _, p := range d.Processes {
			out[p.ServiceName] = true
		}
	}
	return out
}
