package configcenter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"sanshi/internal/chassis/configstore"
)

// Keys of the config center's own records (outside /sanshi/config/, so that
// services do not reload for them).
const (
	leaderKey      = "/sanshi/config-center/leader"
	statusKey      = StatusKey
	historyKey     = "/sanshi/config-center/history"
	syncRequestKey = "/sanshi/config-center/sync-request"
	historyLength  = 50
)

// StatusKey holds the config center's Status in etcd (the console reads it).
const StatusKey = "/sanshi/config-center/status"

// Status is what the config center last did, for the API and the console.
type Status struct {
	Revision  string    `json:"revision"`
	AppliedAt time.Time `json:"applied_at"`
	Rejected  string    `json:"rejected_revision,omitempty"`
	Error     string    `json:"error,omitempty"`
	// Problems are the rejection's reasons one by one, when they are a
	// schema's (a console says them in its reader's language).
	Problems   []Problem `json:"problems,omitempty"`
	RejectedAt time.Time `json:"rejected_at,omitzero"`
	Leader     string    `json:"leader,omitempty"`
}

// HistoryEntry is one applied commit.
type HistoryEntry struct {
	Revision  string    `json:"revision"`
	Message   string    `json:"message"`
	Author    string    `json:"author"`
	AppliedAt time.Time `json:"applied_at"`
	Changed   []string  `json:"changed"`
}

// Center syncs the repository into etcd while it leads, and reconciles
// hand-made changes back.
type Center struct {
	cli      *clientv3.Client
	repo     *Repo
	schemas  []configstore.Schema
	cipher   *Cipher
	poll     time.Duration
	id       string
	log      *slog.Logger
	now      func() time.Time
	kick     chan struct{}
	mu       sync.Mutex
	desired  *configstore.Snapshot
	election *concurrency.Election
	leading  bool
}

// Kick asks for a sync now (from a webhook).
func (c *Center) Kick(ctx context.Context) {
	if c.isLeader() {
		select {
		case c.kick <- struct{}{}:
		default:
		}
		return
	}
	// Another instance leads: ask it through etcd.
	_, _ = c.cli.Put(ctx, syncRequestKey, c.now().UTC().Format(time.RFC3339Nano))
}

func (c *Center) isLeader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leading
}

// Run campaigns for leadership forever; while leading it syncs.
func (c *Center) Run(ctx context.Context) {
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(c.cli, concurrency.WithTTL(2), concurrency.WithContext(ctx))
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		e := concurrency.NewElection(sess, leaderKey)
		if err := e.Campaign(ctx, c.id); err != nil {
			_ = sess.Close()
			sleep(ctx, time.Second)
			continue
		}
		c.log.Info("leading the config center", "instance", c.id)
		c.mu.Lock()
		c.election, c.leading = e, true
		c.mu.Unlock()
		c.lead(ctx, sess)
		c.mu.Lock()
		c.leading = false
		c.mu.Unlock()
		_ = sess.Close()
		c.log.Warn("no longer leading the config center")
	}
}

// lead syncs on start, on kicks, on sync requests, on every poll, and puts
// back whatever someone changed by hand under /sanshi/config/.
func (c *Center) lead(ctx context.Context, sess *concurrency.Session) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	requests := c.cli.Watch(wctx, syncRequestKey)
	changes := c.cli.Watch(wctx, configstore.Prefix, clientv3.WithPrefix())
	poll := time.NewTicker(c.poll)
	defer poll.Stop()
	c.sync(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sess.Done():
			return
		case <-c.kick:
			c.sync(ctx)
		case <-requests:
			c.sync(ctx)
		case <-poll.C:
			c.sync(ctx)
		case <-changes:
			c.reconcile(ctx)
		}
	}
}

// sync fetches, builds and validates the head commit and writes it.
func (c *Center) sync(ctx context.Context) {
	if err := c.repo.Fetch(ctx); err != nil {
		c.log.Warn("cannot fetch the config repository; keeping the last good configuration", "error", err)
		return
	}
	commit, err := c.repo.Head()
	if err != nil {
		c.log.Warn("cannot read the config repository", "error", err)
		return
	}
	c.mu.Lock()
	same := c.desired != nil && c.desired.Meta.Revision == commit.Hash
	c.mu.Unlock()
	if same {
		c.reconcile(ctx)
		return
	}
	snap, err := Build(commit, c.schemas, c.cipher)
	if err != nil {
		c.reject(ctx, commit.Hash, err)
		return
	}
	c.mu.Lock()
	c.desired = &snap
	c.mu.Unlock()
	c.reconcile(ctx)
}

// Build turns a commit into the snapshot services read: parsed, decrypted
// and validated; any problem rejects the whole commit.
func Build(commit Commit, schemas []configstore.Schema, cipher *Cipher) (configstore.Snapshot, error) {
	sources := map[string]map[string]string{}
	for file, data := range commit.Files {
		name, _ := sourceName(file)
		vals, err := parseFile(file, data)
		if err != nil {
			return configstore.Snapshot{}, err
		}
		if sources[name] == nil {
			sources[name] = map[string]string{}
		}
		maps.Copy(sources[name], vals)
	}
	secret, err := decryptAll(sources, cipher)
	if err != nil {
		return configstore.Snapshot{}, err
	}
	if err := Validate(sources, schemas); err != nil {
		return configstore.Snapshot{}, err
	}
	var sk []string
	for k := range secret {
		sk = append(sk, k)
	}
	sort.Strings(sk)
	return configstore.Snapshot{Sources: sources, Meta: configstore.Meta{Revision: commit.Hash, Message: commit.Message,
		Author: commit.Author, SecretKeys: sk}}, nil
}

func (c *Center) reject(ctx context.Context, rev string, err error) {
	st := c.status(ctx)
	if st.Rejected == rev {
		return // said once; every poll meets the same head until it changes
	}
	c.log.Error("config commit rejected; the last good configuration stays", "revision", rev, "error", err)
	st.Rejected, st.Error, st.RejectedAt, st.Problems = rev, err.Error(), c.now().UTC(), nil
	var rej *Rejection
	if errors.As(err, &rej) {
		st.Problems = rej.Problems
	}
	b, _ := json.Marshal(st)
	if _, err := c.cli.Put(ctx, statusKey, string(b)); err != nil {
		c.log.Warn("could not record the rejection in the status; the log above has it", "error", err)
	}
}

// clearRejection forgets a rejected commit once a good one is the head.
func (c *Center) clearRejection(ctx context.Context) {
	st := c.status(ctx)
	if st.Rejected == "" {
		return
	}
	st.Rejected, st.Error, st.RejectedAt, st.Problems = "", "", time.Time{}, nil
	b, _ := json.Marshal(st)
	if _, err := c.cli.Put(ctx, statusKey, string(b)); err != nil {
		c.log.Warn("could not clear the rejection in the status", "error", err)
	}
}

func (c *Center) status(ctx context.Context) Status {
	var st Status
	if resp, err := c.cli.Get(ctx, statusKey); err == nil && len(resp.Kvs) == 1 {
		_ = json.Unmarshal(resp.Kvs[0].Value, &st) // a damaged record reads as empty
	}
	return st
}

// reconcile makes etcd hold exactly the desired snapshot, in one
// transaction that only the leader can commit.
func (c *Center) reconcile(ctx context.Context) {
	c.mu.Lock()
	desired, e := c.desired, c.election
	c.mu.Unlock()
	if desired == nil || e == nil {
		return
	}
	cur, err := configstore.Read(ctx, c.cli)
	if err != nil {
		return
	}
	var ops []clientv3.Op
	var changed []string
	for name, vals := range desired.Sources {
		if !maps.Equal(vals, cur.Sources[name]) {
			b, _ := json.Marshal(vals)
			ops = append(ops, clientv3.OpPut(configstore.SourcesPrefix+name, string(b)))
			changed = append(changed, diff(name, cur.Sources[name], vals)...)
		}
	}
	for name, vals := range cur.Sources {
		if _, ok := desired.Sources[name]; !ok {
			ops = append(ops, clientv3.OpDelete(configstore.SourcesPrefix+name))
			changed = append(changed, diff(name, vals, nil)...)
		}
	}
	newRevision := cur.Meta.Revision != desired.Meta.Revision
	if len(ops) == 0 && !newRevision {
		return
	}
	sort.Strings(changed)
	meta := desired.Meta
	meta.AppliedAt, meta.Changed = c.now().UTC(), changed
	mb, _ := json.Marshal(meta)
	ops = append(ops, clientv3.OpPut(configstore.MetaKey, string(mb)))
	if newRevision {
		ops = append(ops, c.historyOps(ctx, meta)...)
	}
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(e.Key()), "=", e.Rev())).Then(ops...).Commit()
	if err != nil || !resp.Succeeded {
		c.log.Warn("config write not committed (leadership lost?)", "error", err)
		return
	}
	if newRevision {
		c.log.Info("config revision written", "revision", meta.Revision, "changed", len(changed))
		c.clearRejection(ctx)
	} else {
		c.log.Warn("put back configuration changed by hand in etcd", "keys", changed)
	}
}

func (c *Center) historyOps(ctx context.Context, meta configstore.Meta) []clientv3.Op {
	var hist []HistoryEntry
	if resp, err := c.cli.Get(ctx, historyKey); err == nil && len(resp.Kvs) == 1 {
		_ = json.Unmarshal(resp.Kvs[0].Value, &hist) // a damaged record reads as empty
	}
	hist = append([]HistoryEntry{{Revision: meta.Revision, Message: meta.Message, Author: meta.Author, AppliedAt: meta.AppliedAt, Changed: meta.Changed}}, hist...)
	if len(hist) > historyLength {
		hist = hist[:historyLength]
	}
	hb, _ := json.Marshal(hist)
	st := c.status(ctx)
	st.Revision, st.AppliedAt, st.Leader = meta.Revision, meta.AppliedAt, c.id
	sb, _ := json.Marshal(st)
	return []clientv3.Op{clientv3.OpPut(historyKey, string(hb)), clientv3.OpPut(statusKey, string(sb))}
}

// diff names the keys of a source that differ, as "source:key".
func diff(source string, old, new map[string]string) []string {
	var out []string
	for k, v := range new {
		if ov, ok := old[k]; !ok || ov != v {
			out = append(out, source+":"+k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			out = append(out, source+":"+k)
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
