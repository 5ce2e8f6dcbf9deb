package routing

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestTransactionTimers: a Server shortens only the UDP wait timers (D, J)
// and sipgo's Timer L (the retransmission cache absorbs a 2xx-answered
// INVITE's retransmissions for acceptedTimer instead); the give-up timers
// and the client's 2xx absorption keep RFC 3261's values.
func TestTransactionTimers(t *testing.T) {
	testServer(t)
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"Timer_D", sip.Timer_D, waitTimer},
		{"Timer_J", sip.Timer_J, waitTimer},
		{"Timer_B", sip.Timer_B, 64 * sip.T1},
		{"Timer_F", sip.Timer_F, 64 * sip.T1},
		{"Timer_H", sip.Timer_H, 64 * sip.T1},
		{"Timer_L", sip.Timer_L, time.Duration(0)},
		{"acceptedTimer", acceptedTimer, 64 * sip.T1},
		{"Timer_M", sip.Timer_M, 64 * sip.T1},
		{"Timer_K", sip.Timer_K, sip.T4},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if waitTimer < sip.T2 {
		t.Errorf("waitTimer %v shorter than T2 %v: a retransmission after one lost response would be missed", waitTimer, sip.T2)
	}
}
