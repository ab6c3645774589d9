package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
)

// The console shows one trace as a waterfall, read from the trace store's
// query API (Jaeger's GET /api/traces/{id}, at SANSHI_TRACE_API): a request
// id is a trace id (docs/observability.md), so the slow and failed requests
// of an instance's page link here.

// traceAPI reads traces from a Jaeger query API.
type traceAPI struct {
	base string // http://jaeger:16686; "" when none is set
	http *http.Client
}

// spanRow is one line of the waterfall.
type spanRow struct {
	Service, Operation string
	Depth              int
	Start, Duration    time.Duration // from the trace's start
	Left, Width        float64       // percent of the trace's length
	Failed             bool
}

type traceView struct {
	chrome
	ID         string
	Configured bool
	Problem    string // a key of texts: not found, unavailable
	Spans      []spanRow
	Total      time.Duration
	Services   int
}

// jaegerTrace is the part of Jaeger's answer the waterfall needs.
type jaegerTrace struct {
	Data []struct {
		Spans []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			References    []struct {
				RefType string `json:"refType"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
			StartTime int64 `json:"startTime"` // µs since 1970
			Duration  int64 `json:"duration"`  // µs
			Tags      []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"tags"`
			ProcessID string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

// errTraceNotFound is a trace the store does not have (not kept, or not
// sent yet).
var errTraceNotFound = errs.E(errs.NotFound, "no such trace")

// get reads trace id and lays it out.
func (a traceAPI) get(ctx context.Context, id string) ([]spanRow, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/traces/"+url.PathEscape(id), nil) // #nosec G704 -- the operator's trace store (SANSHI_TRACE_API); the id is checked and path-escaped
	if err != nil {
		return nil, err
	}
	resp, err := a.http.Do(req) // #nosec G704 -- the operator's trace store (SANSHI_TRACE_API); the id is checked and path-escaped
	if err != nil {
		return nil, errs.Wrap(err, "reach the trace store")
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, errTraceNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errs.E(errs.Unavailable, "the trace store answered %d", resp.StatusCode)
	}
	var t jaegerTrace
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&t); err != nil {
		return nil, errs.Wrap(err, "read the trace")
	}
	if len(t.Data) == 0 || len(t.Data[0].Spans) == 0 {
		return nil, errTraceNotFound
	}
	return waterfall(t), nil
}

// waterfall orders a trace's spans as a tree (each after its parent, the
// children by start) with their offsets from the trace's start.
func waterfall(t jaegerTrace) []spanRow {
	d := t.Data[0]
	type node struct {
		row      spanRow
		start    int64
		children []string
	}
	nodes := map[string]*node{}
	var roots []string
	first, last := d.Spans[0].StartTime, int64(0)
	for _, s := range d.Spans {
		first = min(first, s.StartTime)
		last = max(last, s.StartTime+s.Duration)
	}
	for _, s := range d.Spans {
		failed := false
		for _, tag := range s.Tags {
			if (tag.Key == "error" && tag.Value == true) || (tag.Key == "otel.status_code" && tag.Value == "ERROR") {
				failed = true
			}
		}
		nodes[s.SpanID] = &node{start: s.StartTime, row: spanRow{Service: d.Processes[s.ProcessID].ServiceName, Operation: s.OperationName,
			Start: time.Duration(s.StartTime-first) * time.Microsecond, Duration: time.Duration(s.Duration) * time.Microsecond, Failed: failed}}
	}
	for _, s := range d.Spans {
		parent := ""
		for _, ref := range s.References {
			if ref.RefType == "CHILD_OF" && nodes[ref.SpanID] != nil {
				parent = ref.SpanID
			}
		}
		if parent == "" {
			roots = append(roots, s.SpanID)
		} else {
			nodes[parent].children = append(nodes[parent].children, s.SpanID)
		}
	}
	total := float64(max(last-first, 1))
	var rows []spanRow
	var walk func(ids []string, depth int)
	walk = func(ids []string, depth int) {
		sort.Slice(ids, func(i, j int) bool { return nodes[ids[i]].start < nodes[ids[j]].start })
		for _, id := range ids {
			n := nodes[id]
			n.row.Depth = depth
			n.row.Left = 100 * float64(n.start-first) / total
			n.row.Width = max(100*float64(n.row.Duration.Microseconds())/total, 0.3)
			rows = append(rows, n.row)
			walk(n.children, depth+1)
		}
	}
	walk(roots, 0)
	return rows
}

// trace is the page of one trace.
func (c *Console) trace(w http.ResponseWriter, r *http.Request, op Operator) {
	id := strings.ToLower(r.PathValue("id"))
	v := &traceView{chrome: chrome{Operator: true, CSRF: op.CSRF}, ID: id, Configured: c.traces.base != ""}
	switch {
	case !validTraceID(id):
		v.Problem = "trace bad id"
	case v.Configured:
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		rows, err := c.traces.get(ctx, id)
		switch {
		case err == errTraceNotFound:
			v.Problem = "trace not found"
		case err != nil:
			c.log.Warn("the trace store did not answer", "trace", id, "error", err)
			v.Problem = "trace unavailable"
		default:
			v.Spans = rows
			services := map[string]bool{}
			for _, s := range rows {
				services[s.Service] = true
				v.Total = max(v.Total, s.Start+s.Duration)
			}
			v.Services = len(services)
		}
	}
	status := http.StatusOK
	if v.Problem == "trace not found" || v.Problem == "trace bad id" {
		status = http.StatusNotFound
	}
	c.renderStatus(w, r, "trace", op.Lang, status, v)
}

// validTraceID: 32 lowercase hex digits, as a request id is.
func validTraceID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9') && !(r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// ms shows a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// notableRequest is a slow or failed request of an instance, from its
// access lines, linked to its trace.
type notableRequest struct {
	At       string
	Route    string
	Status   int
	Duration string
	Trace    string // the request id, when it is a trace id
}

// slowAfter makes a request notable on the instance page.
const slowAfter = 250 * time.Millisecond

// notableRequests reads the instance's recent access lines (its log ring)
// and keeps the last ten that failed (5xx) or took slowAfter or longer,
// newest first.
func (c *Console) notableRequests(ctx context.Context, s InstanceState) []notableRequest {
	var ring struct{ Lines []json.RawMessage }
	if c.mgmtCall(ctx, s, "GET", "/actuator/logfile?max=2000", nil, &ring) != nil {
		return nil
	}
	var out []notableRequest
	for i := len(ring.Lines) - 1; i >= 0 && len(out) < 10; i-- {
		var l struct {
			Time      time.Time `json:"time"`
			Logger    string    `json:"logger"`
			RequestID string    `json:"request_id"`
			Route     string    `json:"route"`
			Status    int       `json:"status"`
			Duration  string    `json:"duration"`
		}
		if json.Unmarshal(ring.Lines[i], &l) != nil || l.Logger != "http.access" {
			continue
		}
		d, _ := time.ParseDuration(l.Duration)
		if l.Status < 500 && d < slowAfter {
			continue
		}
		n := notableRequest{At: l.Time.Local().Format("15:04:05"), Route: l.Route, Status: l.Status, Duration: ms(d)}
		if validTraceID(l.RequestID) {
			n.Trace = l.RequestID
		}
		out = append(out, n)
	}
	return out
}
