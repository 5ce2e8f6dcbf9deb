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
		sip.Timer_L = 0
	})
}

// sipgo's Timer L (RFC 6026: an INVITE server transaction stays Accepted
// after its 2xx to absorb retransmissions of the INVITE) is set to 0: the
// retransmission cache absorbs them for acceptedTimer instead (retrans.go).
// sipgo does not stop Timer L when a transaction is ended early, so with
// its 32 s every answered call's transaction, request and 2xx would stay
// reachable from the timer for 32 s whatever we do.
//
// acceptedTimer is how long an INVITE answered 2xx is remembered so that
// its retransmissions are absorbed: RFC 6026 Timer L, 64·T1 = 32 s (sipgo's
// value too), since the caller retransmits the INVITE until a 2xx reaches
// it, for up to Timer B (also 64·T1).
const acceptedTimer = 32 * time.Second
