package devrun

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// child is one supervised `sanshi serve` process, restarted with backoff
// whenever it exits on its own.
type child struct {
	service, id string
	exe         string
	env         []string
	out         *printer

	mu       sync.Mutex
	restarts int    // how often this child was restarted
	lastExit string // how its last process ended
	planned  string // why the running process is being restarted on purpose
	cmd      *exec.Cmd
	stopping bool
	exited   chan struct{} // closed when the current process has exited
	done     chan struct{} // closed when supervision has ended
}

func (c *child) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// start launches the process and supervises it until stop.
func (c *child) start(ctx context.Context) {
	c.done = make(chan struct{})
	if err := c.launch(); err != nil {
		c.out.service(c.id, "could not start: %v", err)
	}
	go c.supervise(ctx)
}

func (c *child) launch() error {
	cmd := exec.Command(c.exe, "serve", c.service) // #nosec G204 -- sanshi dev runs its own executable
	cmd.Env = c.env
	c.mu.Lock()
	if c.restarts > 0 {
		// The instance announces them in the registry: the console shows
		// the restarts and why the last process ended.
		cmd.Env = append(slices.Clip(c.env), "SANSHI_RESTARTS="+strconv.Itoa(c.restarts), "SANSHI_LAST_EXIT="+c.lastExit)
	}
	c.mu.Unlock()
	// Own process group: a Ctrl-C in the terminal reaches only `sanshi dev`,
	// which then stops the children in order. Pdeathsig stops a child if
	// `sanshi dev` itself dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	exited := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()
	if err := cmd.Start(); err != nil {
		close(exited)
		return err
	}
	var streams sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		streams.Add(1)
		go func() {
			defer streams.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				c.out.childLine(c.id, sc.Text())
			}
		}()
	}
	go func() {
		streams.Wait()
		_ = cmd.Wait()
		close(exited)
	}()
	return nil
}

func (c *child) supervise(ctx context.Context) {
	defer close(c.done)
	backoff := 250 * time.Millisecond
	for {
		c.mu.Lock()
		cmd, exited := c.cmd, c.exited
		c.mu.Unlock()
		startedAt := time.Now()
		<-exited
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		if time.Since(startedAt) > 30*time.Second {
			backoff = 250 * time.Millisecond
		}
		status := "could not start"
		if cmd.ProcessState != nil {
			status = cmd.ProcessState.String()
		}
		c.mu.Lock()
		planned := c.planned
		c.planned = ""
		if planned != "" {
			status = planned + " (" + status + ")"
		}
		c.restarts, c.lastExit = c.restarts+1, status
		c.mu.Unlock()
		if planned != "" {
			c.out.system("%s stopped for a restart (%s); starting it again", c.id, status)
		} else {
			c.out.system("%s exited (%s); restarting in %s", c.id, status, backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(backoff*2, 10*time.Second)
		}
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if err := c.launch(); err != nil {
			c.out.service(c.id, "could not start: %v", err)
		} else {
			c.out.system("%s restarted (pid %d)", c.id, c.pid())
		}
	}
}

// restart stops the running process gracefully (SIGTERM: it drains) and
// has supervision start a new one at once, saying why.
func (c *child) restart(reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping || c.cmd == nil || c.cmd.Process == nil {
		return errStopped
	}
	c.planned = reason
	return c.cmd.Process.Signal(syscall.SIGTERM)
}

// resume starts supervision again after an operator's stop.
func (c *child) resume(ctx context.Context, reason string) error {
	c.mu.Lock()
	if !c.stopping {
		c.mu.Unlock()
		return errRunning
	}
	done := c.done
	c.mu.Unlock()
	<-done // the stopped supervision has ended
	c.mu.Lock()
	c.stopping, c.restarts, c.lastExit = false, c.restarts+1, reason
	c.mu.Unlock()
	c.start(ctx)
	return nil
}

// running reports whether a process is being supervised.
func (c *child) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.stopping
}

var (
	errStopped = errors.New("stopped: start it first")
	errRunning = errors.New("already running")
)

// signal sends sig to the running process, if any, and marks it stopping.
func (c *child) signal(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopping = true
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(sig)
	}
}

func (c *child) wait(d time.Duration) bool {
	c.mu.Lock()
	exited := c.exited
	c.mu.Unlock()
	select {
	case <-exited:
		return true
	case <-time.After(d):
		return false
	}
}

// stopGroup stops all instances of one service together: SIGTERM, then
// SIGKILL for any that has not finished draining in time.
func stopGroup(g []*child) {
	for _, c := range g {
		c.signal(syscall.SIGTERM)
	}
	for _, c := range g {
		if !c.wait(15 * time.Second) {
			c.out.system("%s did not stop within 15s; killing it", c.id)
			c.signal(syscall.SIGKILL)
			c.wait(5 * time.Second)
		}
		<-c.done
	}
}
