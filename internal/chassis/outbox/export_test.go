package outbox

import "time"

// SetEvery changes how often o delivers without being kicked, so that a
// test can leave the ticker out of what it sees.
func SetEvery(o *Outbox, d time.Duration) { o.every = d }
