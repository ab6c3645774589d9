package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/handoff"
)

// Mailer sends queued mail: a few senders side by side, a global rate, a
// per-recipient spacing, retries with backoff, and dead letters after
// maxAttempts. A mail is marked sent only after the server took it, so a
// crash in between sends it again (at-least-once; the Message-ID stays the
// same, so the copy is recognizable): a window of one SMTP reply.
type Mailer struct {
	store    *Store
	claimant string // this instance, in the claims it takes
	sender   Sender
	from     string
	now      func() time.Time
	log      *slog.Logger
	kick     chan struct{}
	// handed are mails the fan-out wrote claimed by this mailer, sent
	// without claiming them from the table.
	handed  *handoff.Queue[mailRow]
	workers int
	// settings read each round (config keys notify.mail.*)
	settings func() mailSettings

	mu       sync.Mutex
	buckets  map[string]bucket // address → its allowance (per-recipient limit)
	nextSend time.Time         // the global rate's next free slot

	sent, failed, dead prometheus.Counter
}

type mailSettings struct {
	rate         float64 // mails a second, all recipients
	perHour      int     // mails an hour to one address
	maxAttempts  int
	sendTimeout  time.Duration
	claimedBatch int
}

// Kick asks for a round now.
func (m *Mailer) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// handedMails bounds the mail handed over in memory; Take also keeps it to
// what the rate sends in handedFor, well inside a claim.
const (
	handedMails = 2048
	handedFor   = 5 * time.Second
)

// Take promises room for up to n mails handed over in memory and names the
// claimant to write them claimed by; the caller gives every promised slot
// back with Hand, used or not.
func (m *Mailer) Take(n int) (room int, claimant string) {
	limit := 0
	if s := m.settings(); s.rate > 0 {
		limit = max(1, int(s.rate*handedFor.Seconds()))
	}
	return m.handed.Take(n, limit), m.claimant
}

// Hand queues mails written claimed by this mailer and gives back the
// room they did not use.
func (m *Mailer) Hand(rows []mailRow, promised int) { m.handed.Hand(rows, promised) }

// takeHanded takes up to limit handed mails. One whose claim would run out
// before a send could end is left: once its claim is over, a round claims
// it from the table like any other.
func (m *Mailer) takeHanded(limit int, s mailSettings) []mailRow {
	now := m.now()
	return m.handed.Next(limit, func(r mailRow) bool { return r.until.Sub(now) > s.sendTimeout })
}

// Mail handed over in memory is sent as it comes, without a claim from
// the table; the table is read when kicked and on the ticker.
func (m *Mailer) Run(ctx context.Context) {
	m.handed.Run(ctx, 500*time.Millisecond, m.kick, func() bool { return m.sendHanded(ctx) }, func() bool { return m.round(ctx) })
}

// sendHanded sends a batch of the handed mail; true when it sent some.
func (m *Mailer) sendHanded(ctx context.Context) bool {
	s := m.settings()
	batch := m.takeHanded(s.claimedBatch, s)
	m.send(ctx, batch, s)
	return len(batch) > 0
}

// round sends the handed mails, then one claimed batch; true when that
// batch was full.
func (m *Mailer) round(ctx context.Context) bool {
	m.sendHanded(ctx)
	s := m.settings()
	batch, err := m.store.ClaimMails(ctx, m.claimant, m.now(), s.claimedBatch)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("claim mail", "error", err)
		}
		return false
	}
	m.send(ctx, batch, s)
	return len(batch) == s.claimedBatch
}

// send sends a batch, a few mails side by side.
func (m *Mailer) send(ctx context.Context, batch []mailRow, s mailSettings) {
	if len(batch) == 0 {
		return
	}
	if b, ok := m.sender.(batchSender); ok {
		m.sendBatch(ctx, b, batch, s)
		return
	}
	work := make(chan mailRow)
	var wg sync.WaitGroup
	for range m.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for row := range work {
				m.one(ctx, row, s)
			}
		}()
	}
	for _, row := range batch {
		if ctx.Err() != nil {
			break // unsent rows stay claimed; another round takes them after claimFor
		}
		work <- row
	}
	close(work)
	wg.Wait()
}

// one sends a mail or puts it back.
func (m *Mailer) one(ctx context.Context, row mailRow, s mailSettings) {
	bg := context.WithoutCancel(ctx)
	if !m.due(bg, row, s) {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, s.sendTimeout)
	err := m.sender.Send(sctx, m.from, row.address, row.id, []byte(row.message), func() error { return m.store.MailSent(bg, m.claimant, row.id, m.now()) })
	cancel()
	if err == nil {
		m.sent.Inc()
		return
	}
	m.failedSend(bg, row, err, s)
}

// due takes the mail's slot of the rates; a mail with none left is
// deferred to when its recipient has one.
func (m *Mailer) due(ctx context.Context, row mailRow, s mailSettings) bool {
	later := m.slot(row.address, s)
	if later.IsZero() {
		return true
	}
	if err := m.store.MailDeferred(ctx, row.id, later); err != nil {
		m.log.Warn("defer mail", "mail", row.id, "error", err)
	}
	return false
}

// sendBatch hands the mails that are due to a sender that takes them
// together and records them with one statement.
func (m *Mailer) sendBatch(ctx context.Context, b batchSender, batch []mailRow, s mailSettings) {
	bg := context.WithoutCancel(ctx)
	var due []mailRow
	for _, row := range batch {
		if m.due(bg, row, s) {
			due = append(due, row)
		}
	}
	var recorded int
	err := b.SendBatch(ctx, m.from, due, func(ids []string) ([]string, error) {
		got, err := m.store.MailsSent(bg, m.claimant, ids, m.now())
		recorded = len(got)
		return got, err
	})
	if err == nil {
		m.sent.Add(float64(recorded))
		return
	}
	for _, row := range due {
		m.failedSend(bg, row, err, s)
	}
}

// failedSend puts a mail whose send failed back: due again after a
// backoff, or a dead letter. One that could not be recorded as sent was
// not finished, and its claim running out sends it again.
func (m *Mailer) failedSend(ctx context.Context, row mailRow, err error, s mailSettings) {
	var unrecorded errUncommitted
	if errors.As(err, &unrecorded) {
		m.log.Warn("mail not recorded as sent, so not finished; it goes again", "mail", row.id, "error", err)
		return
	}
	attempts := row.attempts + 1
	dead := isPermanent(err) || attempts >= s.maxAttempts
	next := m.now().Add(backoff(attempts))
	if dead {
		m.dead.Inc()
		m.log.Error("mail is a dead letter", "mail", row.id, "kind", row.kind, "attempts", attempts, "error", err)
	} else {
		m.failed.Inc()
		m.log.Warn("mail not sent; trying again", "mail", row.id, "attempts", attempts, "next", next, "error", err)
	}
	if err := m.store.MailFailed(ctx, row.id, err, next, dead); err != nil {
		m.log.Warn("record mail failure", "mail", row.id, "error", err)
	}
}

// slot takes one of the recipient's allowance and waits for the global
// rate's next free slot. When the address has no allowance left it returns
// when it will (the mail is deferred, not sent), else the zero time.
func (m *Mailer) slot(address string, s mailSettings) time.Time {
	m.mu.Lock()
	now := m.now()
	b, ok := m.buckets[address]
	if !ok {
		b = fullBucket(s.perHour, now)
	}
	b, due := b.take(s.perHour, now)
	m.buckets[address] = b
	if !due.IsZero() {
		m.mu.Unlock()
		return due
	}
	if len(m.buckets) > 100_000 {
		for a, old := range m.buckets {
			if now.Sub(old.at) > time.Hour {
				delete(m.buckets, a)
			}
		}
	}
	wait := time.Duration(0)
	if s.rate > 0 {
		if m.nextSend.Before(now) {
			m.nextSend = now
		}
		wait = m.nextSend.Sub(now)
		m.nextSend = m.nextSend.Add(time.Duration(float64(time.Second) / s.rate))
	}
	m.mu.Unlock()
	time.Sleep(wait)
	return time.Time{}
}
