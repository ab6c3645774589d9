package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on
// every Linux this runs on).
const clockTicks = 100

// cpuTimes is CPU time (user + system) per part of the platform.
type cpuTimes map[string]time.Duration

// processCPU reads a process's CPU time from /proc/PID/stat.
func processCPU(pid int) (time.Duration, string, bool) {
	st, ok := readStat(pid)
	return st.cpu, st.comm, ok
}

// procStat is what the benchmarks read of /proc/PID/stat.
type procStat struct {
	cpu  time.Duration // user + system
	comm string
	pgrp int
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")) // #nosec G304 -- /proc
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, false
	}
	f := strings.Fields(s[closing+1:]) // f[0] is the state, field 3
	if len(f) < 13 {
		return procStat{}, false
	}
	pgrp, _ := strconv.Atoi(f[2])              // field 5
	user, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	sys, _ := strconv.ParseInt(f[12], 10, 64)  // stime, field 15
	return procStat{time.Duration(user+sys) * time.Second / clockTicks, s[open+1 : closing], pgrp}, true
}

// groupCPU is the CPU time of every process in process group pgid (a
// process that exited is not counted).
func groupCPU(pgid int) time.Duration {
	var sum time.Duration
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(dir))
		if st, ok := readStat(pid); ok && st.pgrp == pgid {
			sum += st.cpu
		}
	}
	return sum
}

// sampleCPU reads the CPU time of the cluster's processes (by service), of
// every PostgreSQL process on the machine when the platform runs on
// PostgreSQL, and of this process (the load generator, with the embedded
// etcd).
func (c *cluster) sampleCPU() cpuTimes {
	out := cpuTimes{}
	for i, p := range c.procs {
		if p.Process == nil {
			continue
		}
		if d, _, ok := processCPU(p.Process.Pid); ok {
			out[c.procNames[i]] += d
		}
	}
	if d, _, ok := processCPU(os.Getpid()); ok {
		out[loadGenerator] += d
	}
	if c.pgAdmin != "" { // a PostgreSQL platform; otherwise the server is not the platform's
		out["PostgreSQL"] = postgresCPU()
	}
	return out
}

// postgresCPU is the CPU time of every PostgreSQL process on the machine
// (the server and its backends; a backend that exited is not counted).
func postgresCPU() time.Duration {
	var sum time.Duration
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(dir))
		if d, comm, ok := processCPU(pid); ok && (comm == "postgres" || strings.HasPrefix(comm, "postgres:")) {
			sum += d
		}
	}
	return sum
}

// since is the CPU each part used from before to t.
func (t cpuTimes) since(before cpuTimes) cpuTimes {
	out := cpuTimes{}
	for k, v := range t {
		out[k] = v - before[k]
	}
	return out
}

// perUnit formats the CPU per unit of work, platform first, then the load
// generator apart: "4.1 ms = order 1.2 + …".
func (t cpuTimes) perUnit(n int) string {
	if n == 0 {
		return "-"
	}
	var parts []string
	for k := range t {
		if k != loadGenerator {
			parts = append(parts, k)
		}
	}
	platform := t.platform()
	sort.Slice(parts, func(i, j int) bool { return t[parts[i]] > t[parts[j]] })
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)/float64(n))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s ms over the platform =", per(platform))
	for i, k := range parts {
		if i > 0 {
			b.WriteString(" +")
		}
		fmt.Fprintf(&b, " %s %s", k, per(t[k]))
	}
	fmt.Fprintf(&b, " (load generator and etcd: %s ms more)", per(t[loadGenerator]))
	return b.String()
}

// loadGenerator names the bench's own process (with the embedded etcd).
const loadGenerator = "bench client + etcd"

// platform is the CPU of every part but the load generator.
func (t cpuTimes) platform() time.Duration {
	var sum time.Duration
	for k, v := range t {
		if k != loadGenerator {
			sum += v
		}
	}
	return sum
}
