package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PledgeOptions shape `sanshi bench pledge`.
type PledgeOptions struct {
	Backers  int           // concurrent backers
	Units    int           // units of the limited tier
	Duration time.Duration // upper bound on each phase
	Postgres string        // admin URL; empty = SQLite
	Replicas map[string]int
}

type api struct {
	base, token string
	http        *http.Client
}

func (a api) call(method, path string, body any, key string) (int, map[string]any, time.Duration, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	start := time.Now()
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, time.Since(start), err
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, time.Since(start), nil
}

func (a api) must(want int, method, path string, body any, key string) (map[string]any, error) {
	code, out, _, err := a.call(method, path, body, key)
	if err != nil || code != want {
		return out, fmt.Errorf("%s %s: %d %v %v", method, path, code, out, err)
	}
	return out, nil
}

func (a api) login(email string) (api, error) {
	out, err := a.must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "bench-password"}, "")
	if err != nil {
		return a, err
	}
	a.token, _ = out["token"].(string)
	return a, nil
}

func (a api) signUp(email string) (api, error) {
	if _, err := a.must(201, "POST", "/api/v1/members", map[string]string{"email": email, "password": "bench-password", "nickname": "压测"}, ""); err != nil {
		return a, err
	}
	return a.login(email)
}

// Pledge runs the pledge benchmark and writes its report.
func Pledge(ctx context.Context, exe string, o PledgeOptions, out, progress io.Writer) error {
	db := "SQLite"
	if o.Postgres != "" {
		db = "PostgreSQL"
	}
	fmt.Fprintf(progress, "starting a %s platform on loopback…\n", db)
	c, err := startCluster(ctx, exe, o.Postgres, []string{"member", "project", "cashier", "order"}, o.Replicas)
	defer c.stop()
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, IdleConnTimeout: time.Minute}
	anon := api{base: "http://" + c.gateway, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	projectID, rewardID, err := setupProject(anon, c, o.Units)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "signing up %d backers…\n", o.Backers)
	backers, err := signUpBackers(anon, o.Backers)
	if err != nil {
		return err
	}

	ok, soldOut, failed := &latencies{}, &latencies{}, atomic.Int64{}
	var orders sync.Map
	start := time.Now()
	stopProgress := reportProgress(progress, "pledging", start, func() string {
		return fmt.Sprintf("%d/%d reserved, %d sold-out answers, %d errors", ok.count(), o.Units, soldOut.count(), failed.Load())
	})
	var wg sync.WaitGroup
	for i, b := range backers {
		wg.Add(1)
		go func(i int, b backer) {
			defer wg.Done()
			for n := 0; time.Since(start) < o.Duration; n++ {
				code, body, d, err := b.call("POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID,
					"amount": 9900, "address_id": b.addr}, fmt.Sprintf("bench-%d-%d", i, n))
				switch {
				case err == nil && code == 201:
					ok.add(d)
					orders.Store(body["id"], b)
				case err == nil && code == 409:
					soldOut.add(d)
					return // this backer saw it sold out
				default:
					failed.Add(1)
				}
			}
		}(i, b)
	}
	wg.Wait()
	pledgeTime := time.Since(start)
	stopProgress()

	payStart := time.Now()
	var payErrors atomic.Int64
	pays := &latencies{}
	stopProgress = reportProgress(progress, "paying", payStart, func() string {
		return fmt.Sprintf("%d/%d paid on the sandbox page", pays.count(), ok.count())
	})
	jobs := make(chan [2]any)
	for w := 0; w < min(o.Backers, 200); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if d, err := pay(j[1].(backer).api, j[0].(string)); err != nil {
					payErrors.Add(1)
				} else {
					pays.add(d)
				}
			}
		}()
	}
	orders.Range(func(k, v any) bool { jobs <- [2]any{k, v}; return true })
	close(jobs)
	wg.Wait()
	stopProgress()
	// Completed: every order paid, as the project's total shows.
	want := int64(ok.count()) * 9900
	for time.Since(payStart) < o.Duration+30*time.Second {
		_, p, _, _ := anon.call("GET", "/api/v1/projects/"+projectID, nil, "")
		if v, _ := p["pledged"].(float64); int64(v) == want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	payTime := time.Since(payStart)

	rep, err := reconcileAsOperator(anon)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nsanshi bench pledge — %s, %d backers, a tier of %d units, through the gateway on loopback\n", db, o.Backers, o.Units)
	fmt.Fprintf(out, "  reservations  %6d in %6.2fs = %7.0f /s   p50 %s  p95 %s  p99 %s\n", ok.count(), pledgeTime.Seconds(),
		float64(ok.count())/pledgeTime.Seconds(), ok.pct(50), ok.pct(95), ok.pct(99))
	fmt.Fprintf(out, "  sold out      %6d answers                 p50 %s  p95 %s  p99 %s\n", soldOut.count(), soldOut.pct(50), soldOut.pct(95), soldOut.pct(99))
	fmt.Fprintf(out, "  payments      %6d completed in %6.2fs = %7.0f /s (create + pay page p50 %s, p99 %s)\n", pays.count(), payTime.Seconds(),
		float64(pays.count())/payTime.Seconds(), pays.pct(50), pays.pct(99))
	fmt.Fprintf(out, "  errors        %d pledge, %d payment\n", failed.Load(), payErrors.Load())
	fmt.Fprintf(out, "  oversell      %d reserved of %d units (%s)\n", ok.count(), o.Units, map[bool]string{true: "none", false: "OVERSOLD"}[ok.count() <= o.Units])
	fmt.Fprintf(out, "  reconcile     %s\n", rep)
	if ok.count() > o.Units {
		return fmt.Errorf("oversold")
	}
	return nil
}

type backer struct {
	api
	addr string
}

func setupProject(anon api, c *cluster, units int) (string, string, error) {
	opEmail := "bench-op@example.cn"
	if _, err := anon.must(201, "POST", "/api/v1/members", map[string]string{"email": opEmail, "password": "bench-password", "nickname": "运营"}, ""); err != nil {
		return "", "", err
	}
	if err := c.admin("grant-operator", opEmail); err != nil {
		return "", "", err
	}
	op, err := anon.login(opEmail)
	if err != nil {
		return "", "", err
	}
	creator, err := anon.signUp("bench-creator@example.cn")
	if err != nil {
		return "", "", err
	}
	p, err := creator.must(201, "POST", "/api/v1/projects", map[string]any{"title": "压测项目", "category": "games", "story": "压测",
		"goal": 100000, "duration_days": 30}, "")
	if err != nil {
		return "", "", err
	}
	id := p["id"].(string)
	r, err := creator.must(201, "POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "限量版", "price": 9900, "limit": units,
		"ships": true, "delivery_month": "2027-06"}, "")
	if err != nil {
		return "", "", err
	}
	if _, err := creator.must(200, "POST", "/api/v1/projects/"+id+"/submit", nil, ""); err != nil {
		return "", "", err
	}
	if _, err := op.must(200, "POST", "/api/v1/projects/"+id+"/approve", nil, ""); err != nil {
		return "", "", err
	}
	return id, r["id"].(string), nil
}

func signUpBackers(anon api, n int) ([]backer, error) {
	out := make([]backer, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := anon.signUp(fmt.Sprintf("backer%d@example.cn", i))
			if err != nil {
				errs <- err
				return
			}
			addr, err := a.must(201, "POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "张三", "phone": "13800138000",
				"province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园"}, "")
			if err != nil {
				errs <- err
				return
			}
			out[i] = backer{api: a, addr: addr["id"].(string)}
		}(i)
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

func pay(a api, orderID string) (time.Duration, error) {
	start := time.Now()
	p, err := a.must(201, "POST", "/api/v1/payments", map[string]string{"order_id": orderID, "channel": "sandbox"}, "pay-"+orderID)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodPost, p["pay_url"].(string), strings.NewReader(url.Values{"action": {"pay"}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+a.token) // only the payer may pay
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("pay page: %d", resp.StatusCode)
	}
	return time.Since(start), nil
}

func reconcileAsOperator(anon api) (string, error) {
	op, err := anon.login("bench-op@example.cn")
	if err != nil {
		return "", err
	}
	for i := 0; i < 100; i++ {
		code, rep, _, err := op.call("GET", "/api/v1/orders/reconciliation", nil, "")
		if err == nil && code == 200 && rep["ok"] == true && rep["moving_orders"] == float64(0) {
			return fmt.Sprintf("clean: %v projects, no mismatch", rep["projects"]), nil
		}
		if i == 99 {
			b, _ := json.Marshal(rep)
			return "", fmt.Errorf("reconcile not clean: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", nil
}

// latencies collects durations safely.
type latencies struct {
	mu sync.Mutex
	ds []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.ds = append(l.ds, d); l.mu.Unlock() }

func (l *latencies) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.ds) }

func (l *latencies) pct(p int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), l.ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return ms(s[min(len(s)-1, len(s)*p/100)])
}

// reportProgress prints a progress line every second until stopped.
func reportProgress(w io.Writer, what string, start time.Time, line func() string) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(w, "\r%-12s %5.1fs  %s\n", what, time.Since(start).Seconds(), line())
				return
			case <-t.C:
				fmt.Fprintf(w, "\r%-12s %5.1fs  %s", what, time.Since(start).Seconds(), line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
