package fork

import (
	"fmt"
	"strings"
	"testing"
)

// step is one input to the aggregator and the verdict it must give.
type step struct {
	op     string // 1xx, final, timeout, cancel, start, fallback, finish
	leg    int
	status int
	want   string // verdictString; "-" = nothing to do
}

func verdictString(v verdict) string {
	var p []string
	if v.relay {
		p = append(p, "relay")
	}
	if v.answered {
		p = append(p, "answered")
	}
	if v.ackBye {
		p = append(p, "ackbye")
	}
	if v.final != 0 {
		p = append(p, fmt.Sprintf("final=%d", v.final))
		if v.from >= 0 {
			p = append(p, fmt.Sprintf("from=%d", v.from))
		}
	}
	if v.fallback {
		p = append(p, "fallback")
	}
	if len(v.cancel) > 0 {
		p = append(p, fmt.Sprintf("cancel=%v", v.cancel))
	}
	if len(p) == 0 {
		return "-"
	}
	return strings.Join(p, " ")
}

// aggCase is a script of inputs for one aggregator and what must come out.
type aggCase struct {
	name      string
	delegates []bool
	fallback  bool
	steps     []step
	final     int  // status sent upstream at the end
	settled   bool // every leg ended and a final went upstream
}

// TestAggregatorAnswers covers answers win and the losers are CANCELled or, if too late, ACKed and BYEd.
func TestAggregatorAnswers(t *testing.T) {
	runAggregator(t, []aggCase{
		{
			name: "first 2xx wins, the others are cancelled", delegates: []bool{false, false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "1xx", leg: 1, status: 183, want: "relay"},
				{op: "1xx", leg: 2, status: 100, want: "-"},
				{op: "final", leg: 0, status: 200, want: "relay answered cancel=[1 2]"},
				{op: "final", leg: 1, status: 487, want: "-"},
				{op: "final", leg: 2, status: 487, want: "-"},
			},
			final: 200, settled: true,
		},
		{
			name: "silent branch is cancelled on its first 1xx", delegates: []bool{false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "final", leg: 0, status: 200, want: "relay answered"},
				{op: "1xx", leg: 1, status: 180, want: "cancel=[1]"},
				{op: "1xx", leg: 1, status: 180, want: "-"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 200, settled: true,
		},
		{
			name: "two 2xx: the second is ACKed and BYEd", delegates: []bool{false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "1xx", leg: 1, status: 180, want: "relay"},
				{op: "final", leg: 1, status: 200, want: "relay answered cancel=[0]"},
				{op: "final", leg: 0, status: 200, want: "ackbye"},
			},
			final: 200, settled: true,
		},
		{
			name: "6xx cancels the rest and is relayed", delegates: []bool{false, false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "1xx", leg: 2, status: 180, want: "relay"},
				{op: "final", leg: 1, status: 603, want: "final=603 from=1 cancel=[0 2]"},
				{op: "final", leg: 0, status: 487, want: "-"},
				{op: "final", leg: 2, status: 200, want: "ackbye"},
			},
			final: 603, settled: true,
		},
	})
}

// TestAggregatorCallerCancel covers the caller's CANCEL, including its races with a 2xx.
func TestAggregatorCallerCancel(t *testing.T) {
	runAggregator(t, []aggCase{
		{
			name: "caller CANCEL then a 200 races in", delegates: []bool{false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "1xx", leg: 1, status: 180, want: "relay"},
				{op: "cancel", want: "cancel=[0 1]"},
				{op: "final", leg: 0, status: 200, want: "ackbye"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 487, settled: true,
		},
		{
			name: "caller CANCEL after the answer changes nothing", delegates: []bool{false},
			steps: []step{
				{op: "final", leg: 0, status: 200, want: "relay answered"},
				{op: "cancel", want: "-"},
				{op: "timeout", want: "-"},
			},
			final: 200, settled: true,
		},
		{
			name: "caller CANCEL before any 1xx waits for it", delegates: []bool{false},
			steps: []step{
				{op: "cancel", want: "-"},
				{op: "1xx", leg: 0, status: 100, want: "cancel=[0]"},
				{op: "final", leg: 0, status: 487, want: "-"},
			},
			final: 487, settled: true,
		},
		{
			name: "caller CANCEL while the fallback rings", delegates: []bool{false}, fallback: true,
			steps: []step{
				{op: "final", leg: 0, status: 480, want: "fallback"},
				{op: "fallback", want: "1"},
				{op: "1xx", leg: 1, status: 180, want: "relay"},
				{op: "cancel", want: "cancel=[1]"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 487, settled: true,
		},
	})
}

// TestAggregatorFailures covers RFC 3261 §16.7: the best final response when every branch fails.
func TestAggregatorFailures(t *testing.T) {
	runAggregator(t, []aggCase{
		{
			name: "assistant's 603 ends only the assistant's branch", delegates: []bool{false, true},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "1xx", leg: 1, status: 180, want: "relay"},
				{op: "final", leg: 1, status: 603, want: "-"},
				{op: "final", leg: 0, status: 486, want: "final=486 from=0"},
			},
			final: 486, settled: true,
		},
		{
			name: "assistant's 603 alone counts as 480", delegates: []bool{true},
			steps: []step{
				{op: "final", leg: 0, status: 603, want: "final=480"},
			},
			final: 480, settled: true,
		},
		{
			name: "all fail: best final (486 over 480)", delegates: []bool{false, false},
			steps: []step{
				{op: "final", leg: 1, status: 480, want: "-"},
				{op: "final", leg: 0, status: 486, want: "final=486 from=0"},
			},
			final: 486, settled: true,
		},
		{
			name: "all INVITEs failed to go out", delegates: []bool{false, false},
			steps: []step{
				{op: "final", leg: 0, status: 503, want: "-"},
				{op: "final", leg: 1, status: 503, want: "final=500"},
			},
			final: 500, settled: true,
		},
		{
			name: "challenges: 401 wins, 407 is merged by the executor", delegates: []bool{false, false},
			steps: []step{
				{op: "final", leg: 1, status: 407, want: "-"},
				{op: "final", leg: 0, status: 401, want: "final=401 from=0"},
			},
			final: 401, settled: true,
		},
		{
			name: "duplicate final ignored", delegates: []bool{false, false},
			steps: []step{
				{op: "final", leg: 0, status: 486, want: "-"},
				{op: "final", leg: 0, status: 486, want: "-"},
				{op: "1xx", leg: 0, status: 180, want: "-"},
				{op: "final", leg: 1, status: 404, want: "final=486 from=0"},
			},
			final: 486, settled: true,
		},
		{
			name: "start with branches waits", delegates: []bool{false},
			steps: []step{
				{op: "start", want: "-"},
				{op: "final", leg: 0, status: 302, want: "final=302 from=0"},
			},
			final: 302, settled: true,
		},
		{
			name: "fork with nobody to ring", delegates: nil,
			steps: []step{
				{op: "start", want: "final=480"},
			},
			final: 480, settled: true,
		},
	})
}

// TestAggregatorTimeout covers the ring timeout with branches ringing or silent.
func TestAggregatorTimeout(t *testing.T) {
	runAggregator(t, []aggCase{
		{
			name: "timeout with one ringing and one silent", delegates: []bool{false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "timeout", want: "final=480 cancel=[0]"},
				{op: "1xx", leg: 1, status: 180, want: "cancel=[1]"},
				{op: "final", leg: 0, status: 487, want: "-"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 480, settled: true,
		},
		{
			name: "silent branch never answers: not settled until it ends", delegates: []bool{false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "timeout", want: "final=480 cancel=[0]"},
				{op: "final", leg: 0, status: 487, want: "-"},
			},
			final: 480, settled: false,
		},
	})
}

// TestAggregatorFallback covers the no-answer fallback after a 6xx, all failing or the timeout.
func TestAggregatorFallback(t *testing.T) {
	runAggregator(t, []aggCase{
		{
			name: "6xx with a fallback goes to the fallback", delegates: []bool{false, false}, fallback: true,
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "final", leg: 1, status: 600, want: "fallback cancel=[0]"},
				{op: "fallback", want: "2"},
				{op: "final", leg: 0, status: 487, want: "-"},
				{op: "1xx", leg: 2, status: 180, want: "relay"},
				{op: "final", leg: 2, status: 200, want: "relay answered"},
			},
			final: 200, settled: true,
		},
		{
			name: "all fail with a fallback", delegates: []bool{false, false}, fallback: true,
			steps: []step{
				{op: "final", leg: 0, status: 486, want: "-"},
				{op: "final", leg: 1, status: 408, want: "fallback"},
				{op: "fallback", want: "2"},
				{op: "final", leg: 2, status: 486, want: "final=486 from=2"},
			},
			final: 486, settled: true,
		},
		{
			name: "timeout with a fallback, fallback answers", delegates: []bool{false}, fallback: true,
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "timeout", want: "fallback cancel=[0]"},
				{op: "fallback", want: "1"},
				{op: "final", leg: 0, status: 487, want: "-"},
				{op: "1xx", leg: 1, status: 183, want: "relay"},
				{op: "final", leg: 1, status: 200, want: "relay answered"},
			},
			final: 200, settled: true,
		},
		{
			name: "a phone answering after the timeout beats the fallback", delegates: []bool{false}, fallback: true,
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "timeout", want: "fallback cancel=[0]"},
				{op: "fallback", want: "1"},
				{op: "1xx", leg: 1, status: 180, want: "relay"},
				{op: "final", leg: 0, status: 200, want: "relay answered cancel=[1]"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 200, settled: true,
		},
		{
			name: "fallback leg times out", delegates: []bool{false}, fallback: true,
			steps: []step{
				{op: "final", leg: 0, status: 486, want: "fallback"},
				{op: "fallback", want: "1"},
				{op: "1xx", leg: 1, status: 180, want: "relay"},
				{op: "timeout", want: "final=480 cancel=[1]"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 480, settled: true,
		},
		{
			name: "fallback leg unreachable", delegates: []bool{false}, fallback: true,
			steps: []step{
				{op: "timeout", want: "fallback"},
				{op: "fallback", want: "1"},
				{op: "final", leg: 1, status: 503, want: "final=500 from=1"},
				{op: "final", leg: 0, status: 408, want: "-"},
			},
			final: 500, settled: true,
		},
		{
			name: "redirect: no branches, straight to the fallback", fallback: true,
			steps: []step{
				{op: "start", want: "fallback"},
				{op: "finish", status: 302, want: "-"},
			},
			final: 302, settled: true,
		},
	})
}

// TestAggregatorAborts covers shutdown and a 2xx the caller never got.
func TestAggregatorAborts(t *testing.T) {
	runAggregator(t, []aggCase{
		{
			name: "shutdown while ringing", delegates: []bool{false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "abort", status: 503, want: "final=503 cancel=[0]"},
				{op: "1xx", leg: 1, status: 100, want: "cancel=[1]"},
				{op: "final", leg: 0, status: 487, want: "-"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 503, settled: true,
		},
		{
			name: "shutdown after the answer changes nothing", delegates: []bool{false},
			steps: []step{
				{op: "final", leg: 0, status: 200, want: "relay answered"},
				{op: "abort", status: 503, want: "-"},
			},
			final: 200, settled: true,
		},
		{
			name: "answer lost to the caller's CANCEL inside sipgo", delegates: []bool{false, false},
			steps: []step{
				{op: "1xx", leg: 0, status: 180, want: "relay"},
				{op: "1xx", leg: 1, status: 180, want: "relay"},
				{op: "final", leg: 0, status: 200, want: "relay answered cancel=[1]"},
				{op: "lost", want: "-"},
				{op: "cancel", want: "-"},
				{op: "final", leg: 1, status: 487, want: "-"},
			},
			final: 487, settled: true,
		},
	})
}

func runAggregator(t *testing.T, tests []aggCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAggregator(tt.delegates, tt.fallback)
			for n, s := range tt.steps {
				if got := feed(t, a, s); got != s.want {
					t.Fatalf("step %d %s leg=%d status=%d: got %q, want %q", n, s.op, s.leg, s.status, got, s.want)
				}
			}
			if a.final != tt.final {
				t.Errorf("final upstream = %d, want %d", a.final, tt.final)
			}
			if a.settled() != tt.settled {
				t.Errorf("settled = %v, want %v", a.settled(), tt.settled)
			}
		})
	}
}

// feed gives one step to the aggregator and returns its verdict as text.
func feed(t *testing.T, a *aggregator, s step) string {
	switch s.op {
	case "1xx":
		return verdictString(a.provisional(s.leg, s.status))
	case "final":
		return verdictString(a.response(s.leg, s.status))
	case "timeout":
		return verdictString(a.timeout())
	case "cancel":
		return verdictString(a.callerCancel())
	case "abort":
		return verdictString(a.abort(s.status))
	case "start":
		return verdictString(a.start())
	case "fallback":
		return fmt.Sprint(a.addFallback())
	case "finish":
		a.finish(s.status)
		return "-"
	case "lost":
		a.answerLost()
		return "-"
	}
	t.Fatalf("unknown op %q", s.op)
	return ""
}

func TestAnswerLostRelabelsCancels(t *testing.T) {
	a := newAggregator([]bool{false, false, false}, false)
	a.provisional(1, 180)
	a.response(0, 200) // leg 1 CANCELled now, leg 2 (silent) later
	a.answerLost()
	for _, i := range []int{1, 2} {
		if a.legs[i].cancel != whyCaller {
			t.Errorf("leg %d cancel reason = %v, want the caller's", i, a.legs[i].cancel)
		}
	}
}
