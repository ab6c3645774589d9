package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/store"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/notify/notifyapi"
	"sanshi/internal/project/projectapi"
)

// Directory is where the fan-out learns who people are and who backed
// what: the member, order and project services.
type Directory interface {
	Contacts(ctx context.Context, ids []string) ([]memberapi.Contact, error)
	BackerIDs(ctx context.Context, projectID string) ([]string, error)
	Project(ctx context.Context, id string) (projectapi.Project, error)
}

// Fanout turns each event into mails and inbox entries, a chunk of
// recipients per transaction, and wakes the Mailer.
type Fanout struct {
	store    *Store
	received batch.Group[storedEvent, struct{}] // Receive's group commit
	dir      Directory
	render   *renderer
	from     *mail.Address
	key      []byte // signs unsubscribe links
	now      func() time.Time
	log      *slog.Logger
	kick     chan struct{}
	mailer   mailQueue // nil: no mailer to wake
}

// mailQueue is the Mailer as the fan-out sees it.
type mailQueue interface {
	Kick()
	Take(n int) (room int, claimant string)
	Hand(rows []mailRow, promised int)
}

// kickMailer wakes the mailer to claim queued mail.
func (f *Fanout) kickMailer() {
	if f.mailer != nil {
		f.mailer.Kick()
	}
}

// chunk is how many recipients one fan-out transaction writes: a project
// with 10,000 backers is 20 transactions, none holding much in memory.
const chunk = 500

// Kick asks for a round now.
func (f *Fanout) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run fans events out until ctx ends: when kicked, else every second.
func (f *Fanout) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for f.round(ctx) && ctx.Err() == nil {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.kick:
		}
	}
}

// round fans out the due events; true when it found a full batch.
func (f *Fanout) round(ctx context.Context) bool {
	evs, err := f.store.ClaimEvents(ctx, f.now(), 20)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("claim events", "error", err)
		}
		return false
	}
	read, errs := readEvents(evs)
	done := make([]eventNotices, 0, len(evs))
	for i, w := range f.fan(ctx, evs, read, errs) {
		if errs[i] != nil {
			f.failed(ctx, evs[i].id, evs[i].attempts, errs[i])
			continue
		}
		w.attempts = evs[i].attempts
		done = append(done, w)
	}
	f.finish(ctx, done)
	return len(evs) == 20
}

// readEvents decodes stored events' bodies; errs has why one is unreadable.
func readEvents(evs []storedEvent) ([]notifyapi.Event, []error) {
	read := make([]notifyapi.Event, len(evs))
	errs := make([]error, len(evs))
	for i, se := range evs {
		if err := json.Unmarshal([]byte(se.body), &read[i]); err != nil {
			errs[i] = fmt.Errorf("unreadable event: %w", err)
		}
	}
	return read, errs
}

// fan renders the notices of the events without an error in errs, reading
// the members they name once for all of them; an event that cannot be
// fanned out now gets its error in errs.
func (f *Fanout) fan(ctx context.Context, evs []storedEvent, read []notifyapi.Event, errs []error) []eventNotices {
	var named []notifyapi.Event
	for i := range read {
		if errs[i] == nil {
			named = append(named, read[i])
		}
	}
	known := f.prefetch(ctx, named)
	out := make([]eventNotices, len(evs))
	for i, se := range evs {
		if errs[i] == nil {
			out[i], errs[i] = f.one(ctx, se.id, read[i], known)
		}
	}
	return out
}

// Receive keeps an event told by another service, once. Events delivered
// side by side are kept together (group commit), and those that name their
// recipients (a receipt, a message's notice) are fanned out on arrival, in
// the same transaction: such an event is never claimed, and its mail is
// queued when the delivery is answered. An event that reaches a project's
// backers, or that cannot be fanned out now (the member service away), is
// kept due for the fan-out loop, which retries it.
func (f *Fanout) Receive(ctx context.Context, id, body string) error {
	_, err := f.received.Do(ctx, "", storedEvent{id: id, body: body})
	return err
}

func (f *Fanout) receive(ctx context.Context, _ string, evs []storedEvent) []batch.Result[struct{}] {
	read, errs := readEvents(evs)
	for i, e := range read {
		if errs[i] == nil && (e.BackersOf != "" || len(e.To) > chunk) {
			errs[i] = errLater // many recipients: the loop writes them a chunk at a time
		}
	}
	notices := f.fan(ctx, evs, read, errs)
	now := f.now()
	promised := f.claimForMailer(notices, errs, now)
	kept := make([]receivedEvent, len(evs))
	for i, se := range evs {
		kept[i] = receivedEvent{id: se.id, body: se.body}
		if errs[i] == nil {
			kept[i].notices = &notices[i]
		}
	}
	due, mailed, stored := f.store.Receive(context.WithoutCancel(ctx), kept, now)
	if due {
		f.Kick()
	}
	claimed := make([]mailRow, 0, len(mailed))
	for _, m := range mailed {
		if m.claimedBy != "" {
			claimed = append(claimed, m)
		}
	}
	if len(claimed) < len(mailed) {
		f.kickMailer() // some mail for the mailer's own claims
	}
	if promised > 0 {
		f.mailer.Hand(claimed, promised)
	}
	out := make([]batch.Result[struct{}], len(evs))
	for i, err := range stored {
		out[i].Err = err
	}
	return out
}

// claimForMailer writes as many of the fanned-out mails as the mailer has
// room for claimed by it, so that it sends them as handed over in memory
// rather than claiming them from the table (a statement and a write of
// each mail's row fewer); it returns the room promised.
func (f *Fanout) claimForMailer(notices []eventNotices, errs []error, now time.Time) int {
	n := 0
	for i := range notices {
		if errs[i] == nil {
			n += len(notices[i].mails)
		}
	}
	if n == 0 || f.mailer == nil {
		return 0
	}
	room, claimant := f.mailer.Take(n)
	left := room
	for i := range notices {
		for j := range notices[i].mails {
			if left == 0 || errs[i] != nil {
				break
			}
			notices[i].mails[j].claimedBy, notices[i].mails[j].until = claimant, now.Add(claimFor)
			left--
		}
	}
	return room
}

// errLater marks an event left to the fan-out loop.
var errLater = errors.New("fanned out by the loop")

// failed leaves an event due again later.
func (f *Fanout) failed(ctx context.Context, id string, attempts int, err error) {
	next := f.now().Add(backoff(attempts))
	f.log.Warn("fan-out failed; trying again later", "event", id, "attempt", attempts, "next", next, "error", err)
	if err := f.store.EventFailed(context.WithoutCancel(ctx), id, err, next); err != nil {
		f.log.Warn("record fan-out failure", "error", err)
	}
}

// finish writes the round's fanned-out events, their notices and their
// being done, in one transaction; when that fails, each alone, so that
// only an event at fault stays due.
func (f *Fanout) finish(ctx context.Context, done []eventNotices) {
	if len(done) == 0 {
		return
	}
	if err := f.store.FanOut(ctx, done, f.now()); err != nil {
		if len(done) == 1 {
			f.failed(ctx, done[0].event, done[0].attempts, err)
			return
		}
		for _, w := range done {
			f.finish(ctx, []eventNotices{w})
		}
		return
	}
	for _, w := range done {
		if len(w.mails) > 0 {
			f.kickMailer()
			return
		}
	}
}

// people are the members a round's events name, read once for the round:
// who they are and what they want to hear (a round of receipts is two
// reads, not two per event). Members it does not hold (a project's
// backers) are read when needed.
type people struct {
	who   map[string]memberapi.Contact
	wants map[string]switches
}

// prefetch reads the members the round's events name directly.
func (f *Fanout) prefetch(ctx context.Context, evs []notifyapi.Event) *people {
	known := &people{}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.To...)
		if from := e.Data["from_id"]; from != "" {
			ids = append(ids, from)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 || len(ids) > chunk {
		return known
	}
	// Best effort: what is not read here is read again when needed.
	if cs, err := f.dir.Contacts(ctx, ids); err == nil {
		known.who = map[string]memberapi.Contact{}
		for _, c := range cs {
			known.who[c.ID] = c
		}
		for _, id := range ids { // asked and not answered: no such member

			if _, ok := known.who[id]; !ok {
				known.who[id] = memberapi.Contact{}
			}
		}
	}
	if sw, err := f.store.Switches(ctx, ids); err == nil {
		known.wants = sw
		for _, id := range ids {
			if known.wants[id] == nil {
				known.wants[id] = switches{}
			}
		}
	}
	return known
}

// contacts are ids' contacts, from the round's read when it has them all.
func (p *people) contacts(ctx context.Context, dir Directory, ids []string) ([]memberapi.Contact, error) {
	out := make([]memberapi.Contact, 0, len(ids))
	for _, id := range ids {
		c, ok := p.who[id]
		if !ok {
			return dir.Contacts(ctx, ids)
		}
		if c.ID != "" {
			out = append(out, c)
		}
	}
	return out, nil
}

// switches are members' preferences, from the round's read when it has
// them all.
func (p *people) switches(ctx context.Context, st *Store, members []string) (map[string]switches, error) {
	out := map[string]switches{}
	for _, m := range members {
		sw, ok := p.wants[m]
		if !ok {
			return st.Switches(ctx, members)
		}
		if len(sw) > 0 {
			out[m] = sw
		}
	}
	return out, nil
}

// eventNotices are an event's mails and inbox entries, to be written.
type eventNotices struct {
	event    string
	attempts int // the fan-outs tried, this one included
	mails    []mailRow
	notes    []noteRow
}

// recipient is one person an event reaches.
type recipient struct {
	key      string // member id, or "email:" + address
	member   string
	address  string
	name     string
	lang     string
	verified bool
}

// one renders an event's notices. An event whose recipients fill more
// than one chunk has its earlier chunks written here (its claim renewed
// with each); the rest is returned, for finish.
func (f *Fanout) one(ctx context.Context, id string, e notifyapi.Event, known *people) (eventNotices, error) {
	out := eventNotices{event: id}
	k, ok := kindOf(e.Kind)
	if !ok {
		f.log.Error("event of an unknown kind dropped", "event", id, "kind", e.Kind)
		return out, nil
	}
	if e.Data == nil {
		e.Data = map[string]string{}
	}
	var creator string
	if pid := e.Data["project_id"]; pid != "" {
		p, err := f.dir.Project(ctx, pid)
		if err != nil {
			return out, err
		}
		creator = p.CreatorID
		if e.Data["project_title"] == "" {
			e.Data["project_title"] = p.Title
		}
		for _, rw := range p.Rewards {
			if rw.ID == e.Data["reward_id"] && e.Data["reward_title"] == "" {
				e.Data["reward_title"] = rw.Title
			}
		}
	}
	ids := slices.Clone(e.To)
	if e.BackersOf != "" {
		backers, err := f.dir.BackerIDs(ctx, e.BackersOf)
		if err != nil {
			return out, err
		}
		ids = append(ids, backers...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if from := e.Data["from_id"]; from != "" && e.Data["nickname"] == "" {
		cs, err := known.contacts(ctx, f.dir, []string{from})
		if err != nil {
			return out, err
		}
		if len(cs) == 1 {
			e.Data["nickname"] = cs[0].Nickname
		}
	}
	if e.Email != "" {
		if err := f.notices(ctx, &out, known, k, e, creator, []recipient{{key: "email:" + e.Email, address: e.Email, lang: e.Lang, verified: true,
			name: e.Data["nickname"]}}); err != nil {
			return out, err
		}
	}
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		cs, err := known.contacts(ctx, f.dir, part)
		if err != nil {
			return out, err
		}
		rs := make([]recipient, 0, len(cs))
		for _, c := range cs {
			rs = append(rs, recipient{key: c.ID, member: c.ID, address: c.Email, name: c.Nickname, lang: c.Lang, verified: c.EmailVerified})
		}
		if err := f.notices(ctx, &out, known, k, e, creator, rs); err != nil {
			return out, err
		}
		if start+chunk < len(ids) && (len(out.mails) > 0 || len(out.notes) > 0) {
			// Not the last chunk: written now, the event still due.
			if err := f.store.WriteNotices(ctx, out, f.now()); err != nil {
				return out, err
			}
			if len(out.mails) > 0 {
				f.kickMailer()
			}
			out.mails, out.notes = nil, nil
		}
	}
	return out, nil
}

// notices renders the notices of one chunk of recipients into out.
func (f *Fanout) notices(ctx context.Context, out *eventNotices, known *people, k kind, e notifyapi.Event, creator string, rs []recipient) error {
	members := make([]string, 0, len(rs))
	for _, r := range rs {
		if r.member != "" {
			members = append(members, r.member)
		}
	}
	sw, err := known.switches(ctx, f.store, members)
	if err != nil {
		return err
	}
	at := e.At
	if at.IsZero() {
		at = f.now()
	}
	for _, r := range rs {
		s := sw[r.member]
		// Mail other than receipts and security goes only to an address
		// its owner confirmed; the inbox has every notice.
		mailIt := s.wants(k, channelMail) && (k.essential || r.verified)
		inboxIt := r.member != "" && s.wants(k, channelInbox)
		if !mailIt && !inboxIt {
			continue
		}
		unsub := ""
		if !k.essential && r.member != "" {
			unsub = strings.TrimRight(f.render.site(), "/") + "/api/v1/notifications/unsubscribe?token=" + url.QueryEscape(unsubscribeToken(f.key, r.member, k.name))
		}
		n, err := f.render.render(k, r.lang, r.name, r.member != "" && r.member == creator, e.Data, at, unsub)
		if err != nil {
			return fmt.Errorf("render %s: %w", k.name, err)
		}
		if inboxIt {
			out.notes = append(out.notes, noteRow{member: r.member, kind: k.name, n: n})
		}
		if mailIt {
			m, err := f.envelope(r, n, unsub, at)
			if err != nil {
				return err
			}
			m.kind, m.eventID = k.name, out.event
			out.mails = append(out.mails, m)
		}
	}
	return nil
}

// envelope renders one recipient's mail whole.
func (f *Fanout) envelope(r recipient, n notice, unsub string, at time.Time) (mailRow, error) {
	id := store.NewID()
	domain := "sanshi.local"
	if i := strings.LastIndexByte(f.from.Address, '@'); i >= 0 {
		domain = f.from.Address[i+1:]
	}
	env := envelope{From: f.from.String(), To: mail.Address{Name: r.name, Address: r.address}, Subject: n.Title,
		MessageID: id + "@" + domain, Date: at, Text: n.Text, HTML: n.HTML}
	if unsub != "" {
		env.Unsubscribe = unsub
		env.UnsubscribeMailto = "unsubscribe@" + domain + "?subject=" + url.PathEscape("unsubscribe "+unsub[strings.Index(unsub, "token=")+6:])
	}
	b, err := env.bytes()
	if err != nil {
		return mailRow{}, err
	}
	return mailRow{id: id, recipient: r.key, address: r.address, subject: n.Title, message: string(b)}, nil
}
