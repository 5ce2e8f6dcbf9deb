package daemon

import (
	"context"
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

// watchdog pings systemd at half of WATCHDOG_USEC until ctx ends.
func (n *notifier) watchdog(ctx context.Context) error {
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
	for {
		n.send(sd.SdNotifyWatchdog)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
