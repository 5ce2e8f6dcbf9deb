package routing

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/fork"
)

// forkOptions wires the executor to our client, sockets and trunk.
func (s *Server) forkOptions() fork.Options {
	return fork.Options{
		Client: s.cli,
		Log:    s.opts.Log.With("component", "fork"),
		Laddr:  s.laddr,
		Trunk:  s.trunkTarget,
		Events: s.callEvent,
		Wait:   waitTimer,
	}
}

// unmatchedResponse gets every response sipgo's transaction layer matches
// to none of its transactions: first the fork's branch INVITE
// transactions and the records they leave (kept by the executor); what
// is left is stray and dropped.
func (s *Server) unmatchedResponse(r *sip.Response) {
	if s.fork != nil && s.fork.HandleResponse(r) {
		return
	}
	s.strayResponse(r)
}

// callEvent keeps the calls list current while Execute runs (it returns
// only after the losing branches are gone).
func (s *Server) callEvent(ev fork.Event) {
	s.inSetup.progress(ev)
	s.lineEvent(ev)
	switch ev.Kind {
	case fork.EventAnswered:
		s.calls.finish(ev.CallID, true, ev.Time)
	case fork.EventEnded:
		s.calls.finish(ev.CallID, ev.Outcome.Result == fork.ResultAnswered, ev.Time)
	}
}

// laddr is the listener address a transport's requests must leave from
// (docs/libraries.md P3); zero for connection-oriented transports, which reuse the
// phone's connection.
func (s *Server) laddr(transport string) (sip.Addr, bool) {
	if !strings.EqualFold(transport, "udp") {
		return sip.Addr{}, false
	}
	l, ok := s.me.listener("udp")
	if !ok {
		return sip.Addr{}, false
	}
	return sip.Addr{IP: l.addr.Addr().AsSlice(), Port: int(l.addr.Port())}, true
}
