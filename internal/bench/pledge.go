package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sanshi/internal/admin"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// PledgeOptions shape `sanshi bench pledge`.
type PledgeOptions struct {
	Backers    int           // concurrent backers
	Units      int           // units of the limited tier
	Duration   time.Duration // upper bound on each phase
	Postgres   string        // admin URL; empty = SQLite
	Replicas   map[string]int
	Profile    string        // folder for CPU profiles of every process while pledging; empty = none
	ProfileFor time.Duration // length of those profiles
	// Leftovers, when set, keeps the run's data until its Clean instead of
	// removing it when the run ends.
	Leftovers *Leftovers
}

// api is one user of the platform, calling it through the gateway with the
// services' typed contracts.
type api struct{ *admin.Client }

func newAPI(base string, hc *http.Client) api {
	return apiFor(&httpclient.Gateway{Base: base, HTTP: hc})
}

func apiFor(gw *httpclient.Gateway) api { return api{admin.NewClient(gw)} }

// token is the session of the api's member ("" for a visitor).
func (a api) token() string { return a.Gateway.Token }

func (a api) login(email string) (api, error) {
	var s struct{ Token string }
	if err := a.Members.LogIn(context.Background(), memberapi.Credentials{Email: email, Password: "bench-password"}, &s); err != nil {
		return a, fmt.Errorf("log in %s: %w", email, err)
	}
	gw := *a.Gateway
	gw.Token = s.Token
	return apiFor(&gw), nil
}

func (a api) signUp(email string) (api, error) {
	if err := a.Members.SignUp(context.Background(), memberapi.SignUp{Email: email, Password: "bench-password", Nickname: "压测"}, nil); err != nil {
		return a, fmt.Errorf("sign up %s: %w", email, err)
	}
	return a.login(email)
}

// PledgeResult is what one run of the pledge benchmark measured, per paid
// pledge where it says so.
type PledgeResult struct {
	Paid                       int
	Reservations, Payments     float64 // per second
	CPU                        time.Duration
	Calls, Statements, Commits float64
	Counted                    bool // the build counts calls, statements and commits
}

// Pledge runs the pledge benchmark and writes its report.
func Pledge(ctx context.Context, exe string, o PledgeOptions, out, progress io.Writer) (PledgeResult, error) {
	var res PledgeResult
	db := "SQLite"
	if o.Postgres != "" {
		db = "PostgreSQL"
	}
	fmt.Fprintf(progress, "starting a %s platform on loopback…\n", db)
	c, err := startCluster(ctx, exe, o.Postgres, []string{"member", "project", "cashier", "order", "notify"}, o.Replicas)
	defer func() {
		switch {
		case c == nil:
		case o.Leftovers == nil:
			c.stop()
		default:
			c.stopProcesses()
			o.Leftovers.clusters = append(o.Leftovers.clusters, c)
		}
	}()
	if err != nil {
		return res, err
	}
	tr := &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, IdleConnTimeout: time.Minute}
	anon := newAPI("http://"+c.gateway, &http.Client{Transport: tr, Timeout: 30 * time.Second})
	projectID, rewardID, err := setupProject(anon, c, o.Units)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(progress, "signing up %d backers…\n", o.Backers)
	backers, err := signUpBackers(anon, o.Backers)
	if err != nil {
		return res, err
	}

	if err := c.checkpoint(ctx); err != nil {
		return res, err
	}
	costsBefore, err := c.sampleCosts(ctx)
	if err != nil {
		return res, err
	}
	cpuBefore := c.sampleCPU()
	profiled := c.profileAll(ctx, o.Profile, "pledge", o.ProfileFor, progress)
	ok, soldOut, failed := &latencies{}, &latencies{}, atomic.Int64{}
	lateSoldOut := &latencies{} // answers to pledges sent after the backer saw it sold out
	var orders sync.Map
	start := time.Now()
	stopProgress := reportProgress(progress, "pledging", start, func() string {
		return fmt.Sprintf("%d/%d reserved, %d sold-out answers, %d errors", ok.count(), o.Units, soldOut.count()+lateSoldOut.count(), failed.Load())
	})
	var wg sync.WaitGroup
	for i, b := range backers {
		wg.Add(1)
		go func(i int, b backer) {
			defer wg.Done()
			for n := 0; time.Since(start) < o.Duration; n++ {
				var o struct{ ID string }
				t0 := time.Now()
				err := b.Orders.Pledge(ctx, fmt.Sprintf("bench-%d-%d", i, n), orderapi.PledgeInput{ProjectID: projectID, RewardID: &rewardID,
					Amount: 9900, AddressID: &b.addr}, &o)
				d := time.Since(t0)
				switch code := errs.CodeOf(err); {
				case err == nil:
					ok.add(d)
					orders.Store(o.ID, b)
				case code == errs.SoldOut || code == errs.WrongState:
					soldOut.add(d)
					// This backer saw it sold out, and tries again a few
					// times, as people do: these are the answers given
					// once the tier is sold out.
					failed.Add(retryAfterSoldOut(ctx, b, lateSoldOut, projectID, rewardID, fmt.Sprintf("bench-%d-%d", i, n)))
					return
				default:
					failed.Add(1)
				}
			}
		}(i, b)
	}
	wg.Wait()
	pledgeTime := time.Since(start)
	stopProgress()

	profiled()
	cpuReserved := c.sampleCPU()
	payStart := time.Now()
	profiled = c.profileAll(ctx, o.Profile, "pay", o.ProfileFor, progress)
	defer profiled()
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
				if d, err := pay(ctx, j[1].(backer).api, j[0].(string)); err != nil {
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
		var p struct{ Pledged int64 }
		if err := anon.Projects.Project(ctx, projectID, &p); err == nil && p.Pledged == want {
			break
		}
		// Not more often: each look is a project read, counted in the
		// costs per pledge below.
		time.Sleep(250 * time.Millisecond)
	}
	payTime := time.Since(payStart)
	// What the paid pledges set going after their payments (the
	// receipts' fan-out and mail) is theirs too: measured once the
	// platform is quiet — no call and no commit for a second.
	costsAfter, err := c.quiet(ctx, 30*time.Second)
	if err != nil {
		return res, err
	}
	cpu := c.sampleCPU().since(cpuBefore)
	spent := costsAfter.since(costsBefore)

	n := float64(max(ok.count(), 1))
	res = PledgeResult{Paid: ok.count(), Reservations: float64(ok.count()) / pledgeTime.Seconds(), Payments: float64(pays.count()) / payTime.Seconds(),
		CPU: cpu.platform() / time.Duration(max(ok.count(), 1)), Calls: sum(spent.calls) / n, Statements: sum(spent.statements) / n,
		Commits: sum(spent.commits) / n, Counted: len(costsAfter.statements) > 0}
	rep, err := reconcileAsOperator(anon)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "\nsanshi bench pledge — %s, %d backers, a tier of %d units, through the gateway on loopback\n", db, o.Backers, o.Units)
	fmt.Fprintf(out, "  reservations  %6d in %6.2fs = %7.0f /s   p50 %s  p95 %s  p99 %s\n", ok.count(), pledgeTime.Seconds(),
		float64(ok.count())/pledgeTime.Seconds(), ok.pct(50), ok.pct(95), ok.pct(99))
	fmt.Fprintf(out, "  sold out      %6d answers in flight     p50 %s  p95 %s  p99 %s\n", soldOut.count(), soldOut.pct(50), soldOut.pct(95), soldOut.pct(99))
	fmt.Fprintf(out, "  sold out      %6d answers after it      p50 %s  p95 %s  p99 %s\n", lateSoldOut.count(), lateSoldOut.pct(50), lateSoldOut.pct(95), lateSoldOut.pct(99))
	fmt.Fprintf(out, "  payments      %6d completed in %6.2fs = %7.0f /s (create + pay page p50 %s, p99 %s)\n", pays.count(), payTime.Seconds(),
		float64(pays.count())/payTime.Seconds(), pays.pct(50), pays.pct(99))
	fmt.Fprintf(out, "  errors        %d pledge, %d payment\n", failed.Load(), payErrors.Load())
	if len(costsAfter.statements) == 0 {
		fmt.Fprintf(out, "  per paid pledge: calls, statements and commits not counted by this build\n")
	} else {
		fmt.Fprintf(out, "  per paid pledge, counted by the services (callers' side):\n")
		fmt.Fprintf(out, "    calls between services  %s\n", perUnit(spent.calls, ok.count()))
		fmt.Fprintf(out, "    SQL statements          %s\n", perUnit(spent.statements, ok.count()))
		fmt.Fprintf(out, "    commits                 %s\n", perUnit(spent.commits, ok.count()))
	}
	fmt.Fprintf(out, "  CPU per paid pledge  %s\n", cpu.perUnit(ok.count()))
	reserving := cpuReserved.since(cpuBefore)
	fmt.Fprintf(out, "    of it reserving    %s\n", reserving.perUnit(ok.count()))
	fmt.Fprintf(out, "    of it paying       %s\n", cpu.since(reserving).perUnit(ok.count()))
	fmt.Fprintf(out, "  oversell      %d reserved of %d units (%s)\n", ok.count(), o.Units, map[bool]string{true: "none", false: "OVERSOLD"}[ok.count() <= o.Units])
	fmt.Fprintf(out, "  reconcile     %s\n", rep)
	if ok.count() > o.Units {
		return res, fmt.Errorf("oversold")
	}
	return res, nil
}

// triesAfterSoldOut is how many more pledges a backer sends once it has
// seen the tier sold out.
const triesAfterSoldOut = 3

// retryAfterSoldOut pledges triesAfterSoldOut more times for b, each with a
// new key, and records the sold-out answers; it returns how many answers
// were anything else (a pledge taken after a sold-out answer would be a
// unit released meanwhile, which this bench never does: counted as an
// error).
func retryAfterSoldOut(ctx context.Context, b backer, late *latencies, projectID, rewardID, key string) int64 {
	var wrong int64
	for k := 0; k < triesAfterSoldOut; k++ {
		t0 := time.Now()
		err := b.Orders.Pledge(ctx, fmt.Sprintf("%s-again-%d", key, k), orderapi.PledgeInput{ProjectID: projectID, RewardID: &rewardID,
			Amount: 9900, AddressID: &b.addr}, nil)
		if code := errs.CodeOf(err); code == errs.SoldOut || code == errs.WrongState {
			late.add(time.Since(t0))
		} else {
			wrong++
		}
	}
	return wrong
}

type backer struct {
	api
	addr string
}

func setupProject(anon api, c *cluster, units int) (string, string, error) {
	ctx := context.Background()
	opEmail := "bench-op@example.cn"
	if err := anon.Members.SignUp(ctx, memberapi.SignUp{Email: opEmail, Password: "bench-password", Nickname: "运营"}, nil); err != nil {
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
	if err := c.admin("verify-email", "bench-creator@example.cn"); err != nil {
		return "", "", err
	}
	var p, r struct{ ID string }
	if err := creator.Projects.Create(ctx, map[string]any{"title": "压测项目", "category": "games", "story": "压测",
		"goal": 100000, "duration_days": 30}, &p); err != nil {
		return "", "", err
	}
	if err := creator.Projects.AddReward(ctx, p.ID, map[string]any{"title": "限量版", "price": 9900, "limit": units,
		"ships": true, "delivery_month": "2027-06"}, &r); err != nil {
		return "", "", err
	}
	if err := creator.Projects.Review(ctx, p.ID, projectapi.Submit, nil); err != nil {
		return "", "", err
	}
	if err := op.Projects.Review(ctx, p.ID, projectapi.Approve, nil); err != nil {
		return "", "", err
	}
	return p.ID, r.ID, nil
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
			var addr struct{ ID string }
			if err := a.Members.AddAddress(context.Background(), memberapi.Address{Recipient: "张三", Phone: "13800138000",
				Province: "广东省", City: "深圳市", District: "南山区", Detail: "科技园"}, &addr); err != nil {
				errs <- err
				return
			}
			out[i] = backer{api: a, addr: addr.ID}
		}(i)
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

// pay creates the sandbox payment of an order and pays it on its page, as
// the payer.
func pay(ctx context.Context, a api, orderID string) (time.Duration, error) {
	start := time.Now()
	var p struct {
		PayURL string `json:"pay_url"`
	}
	if err := a.Cashier.Pay(ctx, "pay-"+orderID, cashierapi.PaymentInput{OrderID: orderID, Channel: "sandbox"}, nil, &p); err != nil {
		return 0, err
	}
	if err := a.Cashier.DecideSandboxPage(ctx, p.PayURL, "pay"); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func reconcileAsOperator(anon api) (string, error) {
	op, err := anon.login("bench-op@example.cn")
	if err != nil {
		return "", err
	}
	for i := 0; i < 100; i++ {
		var rep map[string]any
		err := op.Orders.AuditBooks(context.Background(), &rep)
		if err == nil && rep["ok"] == true && rep["moving_orders"] == float64(0) {
			return fmt.Sprintf("clean: %v projects, no mismatch", rep["projects"]), nil
		}
		if i == 99 {
			b, _ := json.Marshal(rep)
			return "", fmt.Errorf("reconcile not clean: %s %v", b, err)
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

// ComparePledge prints the same burst on two builds side by side.
func ComparePledge(out io.Writer, baselineName string, base, this PledgeResult) {
	counted := func(r PledgeResult, v float64) string {
		if !r.Counted {
			return "not counted"
		}
		return fmt.Sprintf("%.2f", v)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	change := func(a, b float64) string {
		if a == 0 {
			return ""
		}
		return fmt.Sprintf("%+.0f %%", (b-a)/a*100)
	}
	fmt.Fprintf(out, "\nthe same burst on both builds, one after the other (baseline: %s)\n", baselineName)
	fmt.Fprintf(out, "  %-30s %14s %14s %8s\n", "", "baseline", "this build", "change")
	row := func(name, a, b, c string) { fmt.Fprintf(out, "  %-30s %14s %14s %8s\n", name, a, b, c) }
	row("CPU per paid pledge", ms(base.CPU), ms(this.CPU), change(float64(base.CPU), float64(this.CPU)))
	row("calls per paid pledge", counted(base, base.Calls), counted(this, this.Calls), "")
	row("SQL statements per paid pledge", counted(base, base.Statements), counted(this, this.Statements), "")
	row("commits per paid pledge", counted(base, base.Commits), counted(this, this.Commits), "")
	row("reservations/s", fmt.Sprintf("%.0f", base.Reservations), fmt.Sprintf("%.0f", this.Reservations), change(base.Reservations, this.Reservations))
	row("payments/s", fmt.Sprintf("%.0f", base.Payments), fmt.Sprintf("%.0f", this.Payments), change(base.Payments, this.Payments))
}
