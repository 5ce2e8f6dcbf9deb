package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// notifier speaks sd_notify; outside systemd every call is a no-op.
type notifier struct{ log *slog.Logger }

func newNotifier(log *slog.Logger) *notifier { return &notifier{log: log} }

// send delivers one or more KEY=VALUE lines to systemd.
func (n *notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify", "err", err)
	}
}

// watchdog pings systemd at half of WATCHDOG_USEC until ctx ends, each
// ping only after probe has shown that the daemon still works (the SIP
// stack answers and the store takes a write). A probe that fails or hangs
// withholds the ping, so WatchdogSec restarts a wedged daemon instead of a
// ticker keeping it "alive". At most one probe runs at a time: a hung one
// is not stacked up every period.
func (n *notifier) watchdog(ctx context.Context, probe func(context.Context) error) error {
	every, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("watchdog settings", "err", err)
		return nil
	}
	if every <= 0 {
		return nil
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	busy := make(chan struct{}, 1)
	for {
		if err := runProbe(ctx, probe, every/4, busy); err == nil {
			n.send(sd.SdNotifyWatchdog)
		} else if ctx.Err() == nil {
			n.log.Error("watchdog ping withheld: the daemon looks stuck", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// errProbeBusy: the previous probe has not returned yet.
var errProbeBusy = errors.New("the previous liveness probe has not returned")

// runProbe runs probe with a timeout; busy (capacity 1) holds a token while
// a probe runs, including one abandoned after its timeout.
func runProbe(ctx context.Context, probe func(context.Context) error, timeout time.Duration, busy chan struct{}) error {
	select {
	case busy <- struct{}{}:
	default:
		return errProbeBusy
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	done := make(chan error, 1)
	go func() {
		defer func() { <-busy }()
		defer cancel()
		done <- probe(pctx)
	}()
	select {
	case err := <-done:
		return err
	case <-pctx.Done():
		return fmt.Errorf("liveness probe: no answer within %s", timeout)
	}
}
