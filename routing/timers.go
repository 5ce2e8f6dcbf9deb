package routing

import (
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// waitTimer is how long a completed UDP transaction stays to absorb
// retransmissions: Timer D (client INVITE after a non-2xx final) and Timer J
// (server non-INVITE after its final), which RFC 3261 sets to 32 s and 64·T1.
// A phone on the LAN retransmits at most T2 = 4 s apart, so 5 s (T4, what
// Timer I and K already use, and Kamailio's wait timer) still catches a
// retransmission provoked by one lost response. The RFC values keep every
// CANCELled fork branch and every answered REGISTER alive for 32 s: at 50
// calls/s of 25-way forks that is 40,000 transactions with their messages
// and timers. Over TCP sipgo already uses 0. docs/decisions.md has the
// consequence.
const waitTimer = 5 * time.Second

var timersOnce sync.Once

// setTransactionTimers shortens sipgo's wait timers (package globals, read
// when a transaction starts). Once per process, before any transaction.
func setTransactionTimers() {
	timersOnce.Do(func() {
		sip.Timer_D = waitTimer
		sip.Timer_J = waitTimer
	})
}
