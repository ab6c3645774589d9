package service

import "github.com/prometheus/client_golang/prometheus"

// registerCosts exports what one operation costs a service, counted where
// it happens and independent of the machine: the calls it sends to other
// services (sanshi_calls_total, by service called) and the SQL statements
// and commits its database was sent (sanshi_db_statements_total,
// sanshi_db_commits_total). `sanshi bench pledge` reads them from every
// process and divides by the paid pledges.
func registerCosts(reg prometheus.Registerer, rt *Runtime) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sanshi_calls_total",
		Help: "Requests sent to other services (each attempt is one), by service called."}, []string{"to"})
	reg.MustRegister(calls)
	rt.Client.Calls = calls
	if rt.DB == nil {
		return
	}
	counts := rt.DB.Counts
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanshi_db_statements_total",
			Help: "SQL statements sent to the service's database (BEGIN, COMMIT and ROLLBACK not counted)."},
			func() float64 { return float64(counts.Statements.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanshi_db_commits_total",
			Help: "Transactions committed that wrote rows: explicit COMMITs, and statements or pipelines outside a transaction that changed rows."},
			func() float64 { return float64(counts.Commits.Load()) }))
}
