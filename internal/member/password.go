package member

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"

	"sanshi/internal/chassis/errs"
)

// argon2id parameters (OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword compares pw with a stored hash in constant time.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want))) // #nosec G115 -- a stored key is 32 bytes
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked when an e-mail is unknown, so that a login takes as
// long whether or not the account exists. It is made on first use: argon2
// takes 19 MB, which no process but the member service should pay at start.
var dummyHash = sync.OnceValue(func() string { return HashPassword("not a real password") })

// Hasher runs password hashing (sign-up, log-in) in a bounded pool: at most
// one hash per core at a time, and a short queue. argon2id takes 19 MB and
// tens of milliseconds of CPU each; unbounded, a burst of sign-ups starves
// every other goroutine of the process, the registry keep-alive included.
// When the queue is full the request is refused at once with 503 and
// Retry-After, which the member can simply retry.
type Hasher struct {
	slots chan struct{} // one per hash running
	queue chan struct{} // one per request running or waiting
}

// NewHasher runs workers hashes at once with up to queue more waiting.
func NewHasher(workers, queue int) *Hasher {
	return &Hasher{slots: make(chan struct{}, max(workers, 1)), queue: make(chan struct{}, max(workers, 1)+max(queue, 0))}
}

func (h *Hasher) run(ctx context.Context, fn func()) error {
	select {
	case h.queue <- struct{}{}:
	default:
		e := errs.E(errs.Unavailable, "the platform is busy signing people in; please retry in a moment")
		e.RetryAfter, e.Shed = 1, true
		return e
	}
	defer func() { <-h.queue }()
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return errs.E(errs.Unavailable, "gave up waiting to check the password")
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}

// Hash hashes a new password.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	var out string
	err := h.run(ctx, func() { out = HashPassword(pw) })
	return out, err
}

// Check compares pw with a stored hash.
func (h *Hasher) Check(ctx context.Context, hash, pw string) (bool, error) {
	var ok bool
	err := h.run(ctx, func() { ok = CheckPassword(hash, pw) })
	return ok, err
}
