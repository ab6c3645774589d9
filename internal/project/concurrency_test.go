package project_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// internal calls a project instance's internal endpoint as the order service.
func internal(t *testing.T, addr, method, path string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(b))
	req.Header.Set(auth.Header, auth.NewSigner(testkit.InternalKey).Sign(auth.Identity{Service: "order"}, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// liveProject creates and launches a project with one tier limited to units.
func liveProject(t *testing.T, p *testkit.Platform, units int) (projectID, rewardID string) {
	creator := p.Creator(t, fmt.Sprintf("c%d@example.cn", time.Now().UnixNano()), "创作者")
	op := p.Operator(t, fmt.Sprintf("op%d@example.cn", time.Now().UnixNano()))
	projectID = creator.Must(201, "POST", "/api/v1/projects", draft("限量手办", "只有五十个", "games")).Field("id")
	rewardID = creator.Must(201, "POST", "/api/v1/projects/"+projectID+"/rewards",
		map[string]any{"title": "手办", "price": 29900, "limit": units, "ships": true, "delivery_month": "2027-05"}).Field("id")
	creator.Must(200, "POST", "/api/v1/projects/"+projectID+"/submit", nil)
	op.Must(200, "POST", "/api/v1/projects/"+projectID+"/approve", nil)
	return projectID, rewardID
}

func TestReservationsNeverOversell(t *testing.T) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project"},
				Replicas: map[string]int{"project": 2}, Postgres: dialect == store.Postgres})
			projectID, rewardID := liveProject(t, p, 50)
			instances := p.Procs["project"]

			var ok, soldOut, other atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					addr := instances[i%2].Instance.Address
					code, body := internal(t, addr, "POST", "/internal/v1/reservations",
						map[string]string{"order_id": fmt.Sprintf("order-%03d", i), "project_id": projectID, "reward_id": rewardID})
					switch {
					case code == 201:
						ok.Add(1)
					case code == 409 && body["error"].(map[string]any)["code"] == "sold_out":
						soldOut.Add(1)
					default:
						other.Add(1)
						t.Errorf("reservation %d: %d %v", i, code, body)
					}
				}(i)
			}
			close(start)
			wg.Wait()
			t.Logf("%s: 200 parallel reservations over 2 instances: %d held, %d sold out", dialect, ok.Load(), soldOut.Load())
			if ok.Load() != 50 || soldOut.Load() != 150 || other.Load() != 0 {
				t.Fatalf("held %d, sold out %d, other %d; want exactly 50 held", ok.Load(), soldOut.Load(), other.Load())
			}
			// The same order again gets the same answer, never a second unit.
			for i := 0; i < 200; i++ {
				code, _ := internal(t, instances[(i+1)%2].Instance.Address, "POST", "/internal/v1/reservations",
					map[string]string{"order_id": fmt.Sprintf("order-%03d", i), "project_id": projectID, "reward_id": rewardID})
				if code != 200 && code != 409 {
					t.Fatalf("repeat %d: %d", i, code)
				}
			}
			db, err := store.Open(context.Background(), p.DBURLs["project"])
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var reserved, held int
			db.QueryRow(`SELECT reserved FROM rewards WHERE id = $1`, rewardID).Scan(&reserved)
			db.QueryRow(`SELECT COUNT(*) FROM reservations WHERE reward_id = $1 AND state = 'held'`, rewardID).Scan(&held)
			if reserved != 50 || held != 50 {
				t.Fatalf("stored: reserved %d, held %d", reserved, held)
			}
			testkit.Eventually(t, 3*time.Second, "remaining 0 on the page", func() bool {
				r := p.Client(t).Must(200, "GET", "/api/v1/projects/"+projectID, nil)
				return bytes.Contains(r.Body, []byte(`"remaining":0`))
			})

			// Releasing (twice) gives exactly one unit back; a late reserve
			// of a released order does not take it again.
			var heldOrder string
			db.QueryRow(`SELECT order_id FROM reservations WHERE reward_id = $1 AND state = 'held' ORDER BY order_id LIMIT 1`, rewardID).Scan(&heldOrder)
			for i := 0; i < 2; i++ {
				if code, _ := internal(t, instances[i].Instance.Address, "DELETE", "/internal/v1/reservations/"+heldOrder, nil); code != 200 {
					t.Fatalf("release: %d", code)
				}
			}
			if code, _ := internal(t, instances[0].Instance.Address, "POST", "/internal/v1/reservations",
				map[string]string{"order_id": heldOrder, "project_id": projectID, "reward_id": rewardID}); code != 409 {
				t.Fatalf("reserve after release: %d", code)
			}
			db.QueryRow(`SELECT reserved FROM rewards WHERE id = $1`, rewardID).Scan(&reserved)
			if reserved != 49 {
				t.Fatalf("after one release: reserved %d", reserved)
			}
		})
	}
}

// Deadlines fire by themselves in the running service, once, with two
// instances watching. The test moves the deadline close instead of waiting
// a day.
func TestDeadlineFiresOnTimeInTheRunningService(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project"}, Replicas: map[string]int{"project": 2}})
	projectID, _ := liveProject(t, p, 5)
	db, err := store.Open(context.Background(), p.DBURLs["project"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(1500 * time.Millisecond)
	if _, err := db.Exec(`UPDATE projects SET deadline = $1 WHERE id = $2`, store.TS(deadline), projectID); err != nil {
		t.Fatal(err)
	}
	var status string
	testkit.Eventually(t, 5*time.Second, "project settled", func() bool {
		db.QueryRow(`SELECT status FROM projects WHERE id = $1`, projectID).Scan(&status)
		return status != "live"
	})
	late := time.Since(deadline)
	t.Logf("settled %s after its deadline", late.Round(time.Millisecond))
	if status != "failed" {
		t.Fatalf("status %s, want failed (nothing pledged)", status)
	}
	// The log line is written just after the commit the test saw.
	settledBy := 0
	testkit.Eventually(t, 2*time.Second, "the settling logged", func() bool {
		settledBy = 0
		for _, proc := range p.Procs["project"] {
			settledBy += bytes.Count([]byte(proc.Log.String()), []byte("project settled at its deadline"))
		}
		return settledBy > 0
	})
	time.Sleep(300 * time.Millisecond) // a second settling would show by now
	settledBy = 0
	for _, proc := range p.Procs["project"] {
		settledBy += bytes.Count([]byte(proc.Log.String()), []byte("project settled at its deadline"))
	}
	if settledBy != 1 {
		t.Fatalf("settled by %d instances, want 1", settledBy)
	}
}

// With REDIS_URL the project instances share one cache, and a write through
// one instance is seen at once through the other.
func TestSharedRedisCacheIsNeverStale(t *testing.T) {
	url := testkit.RedisURL(t)
	if url == "" {
		t.Skip("SKIPPED: needs Redis")
	}
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project"},
		Replicas: map[string]int{"project": 2}, Env: []string{"REDIS_URL=" + url}})
	projectID, rewardID := liveProject(t, p, 3)
	anon := p.Client(t)
	for i := 0; i < 3; i++ {
		// Read (filling the shared cache), then reserve through the other
		// instance: the next read must show the new count.
		anon.Must(200, "GET", "/api/v1/projects/"+projectID, nil)
		addr := p.Procs["project"][i%2].Instance.Address
		if code, _ := internal(t, addr, "POST", "/internal/v1/reservations",
			map[string]string{"order_id": fmt.Sprintf("r-%d", i), "project_id": projectID, "reward_id": rewardID}); code != 201 {
			t.Fatalf("reserve: %d", code)
		}
		want := fmt.Sprintf(`"remaining":%d`, 2-i)
		if r := anon.Must(200, "GET", "/api/v1/projects/"+projectID, nil); !bytes.Contains(r.Body, []byte(want)) {
			t.Fatalf("after reservation %d the page is stale: %s", i, r.Body)
		}
	}
	// The health of each instance names its Redis cache.
	code, body := testkit.Do(t, "GET", "http://"+p.Procs["project"][0].Instance.MgmtAddress+"/actuator/health", "", nil)
	if code != 200 || !bytes.Contains(body, []byte(`"cache":{"status":"UP","details":{"kind":"redis"}}`)) {
		t.Fatalf("health: %d %s", code, body)
	}
}
