package notify

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"sanshi/internal/notify/mbox"
)

// Mailbox keeps the mail of sanshi dev (no mail server) in one mbox file a
// day, DIR/2026-12-08.mbox: any mail program opens it, and a batch of mail
// is one append to a file that is there already, where a file a mail made
// and named a new inode for each.
type Mailbox struct {
	dir string
	now func() time.Time
	mu  sync.Mutex // one batch at a time in this process; lockFile between processes
}

// NewMailbox is the mailbox in dir, its files named for now's day (UTC).
func NewMailbox(dir string, now func() time.Time) *Mailbox {
	return &Mailbox{dir: dir, now: now}
}

// batchSender takes a batch of mail at once and records it with one call:
// record is given the mails' ids and returns those it recorded as sent
// (a mail whose claim another instance took is not).
type batchSender interface {
	SendBatch(ctx context.Context, from string, mails []mailRow, record func(ids []string) ([]string, error)) error
}

// Send writes one mail, as a batch of one.
func (b *Mailbox) Send(ctx context.Context, from, to, id string, msg []byte, commit func() error) error {
	return b.SendBatch(ctx, from, []mailRow{{id: id, address: to, message: string(msg)}}, func(ids []string) ([]string, error) {
		if err := commit(); err != nil {
			return nil, err
		}
		return ids, nil
	})
}

// SendBatch appends the mails to today's file and records them, holding
// the file until the record is back: a mail the record left out is cut
// from the file again, so the file holds a mail exactly when it is
// recorded as sent, once. If the record fails, nothing stays and the
// error is an errUncommitted.
func (b *Mailbox) SendBatch(_ context.Context, from string, mails []mailRow, record func(ids []string) ([]string, error)) error {
	if len(mails) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	at := b.now()
	f, err := b.open(at)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return err
	}
	defer unlockFile(f)
	start, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	ids := make([]string, len(mails))
	for i, m := range mails {
		ids[i] = m.id
	}
	if err := b.write(f, start, from, at, mails); err != nil {
		return err
	}
	recorded, err := record(ids)
	if err != nil {
		return errors.Join(errUncommitted{err}, f.Truncate(start))
	}
	if len(recorded) == len(mails) {
		return nil
	}
	kept := map[string]bool{}
	for _, id := range recorded {
		kept[id] = true
	}
	var keep []mailRow
	for _, m := range mails {
		if kept[m.id] {
			keep = append(keep, m)
		}
	}
	if err := f.Truncate(start); err != nil {
		return err
	}
	return b.write(f, start, from, at, keep)
}

// write appends the mails in one write; a write cut short is taken back.
func (b *Mailbox) write(f *os.File, start int64, from string, at time.Time, mails []mailRow) error {
	var buf []byte
	for _, m := range mails {
		buf = mbox.Append(buf, from, at, []byte(m.message))
	}
	if _, err := f.Write(buf); err != nil {
		return errors.Join(err, f.Truncate(start))
	}
	return nil
}

// open opens the day's file to append to, making the folder when it is
// missing (also when it was removed while the platform ran).
func (b *Mailbox) open(at time.Time) (*os.File, error) {
	name := filepath.Join(b.dir, at.UTC().Format(time.DateOnly)+".mbox")
	open := func() (*os.File, error) {
		return os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) // #nosec G304 -- the data folder's own file
	}
	f, err := open()
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(b.dir, 0o750); err == nil {
			f, err = open()
		}
	}
	return f, err
}
