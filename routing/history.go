package routing

import (
	"time"

	"deskgate/daemon/store"
	"deskgate/routing/fork"
	"deskgate/routing/ringplan"
)

// callRecord is what call history needs to know about a call besides the
// executor's Outcome.
type callRecord struct {
	callID     string
	start      time.Time
	caller     string // authenticated user id; "" = from the trunk
	onBehalfOf string // the executive or department the caller called as; "" = own identity
	callerPeer string // how callees see the caller: the identity's extension, or the trunk's From user
	target     ringplan.Target
}

// historyWrite is one entry for one user's (or department's) history.
type historyWrite struct {
	user  string
	entry store.HistoryEntry
}

// historyEntries decides who gets which history entry for a finished call
// (docs/spec.md §4 "Call history"):
//   - the caller: an outgoing entry, marked on behalf of the executive or
//     department it called as;
//   - a called user: an incoming entry with the call's result (answered
//     when an assistant took it for them); the assistant who answered gets
//     an incoming entry on behalf of the executive, while assistants who
//     only rang, missed or declined get nothing;
//   - a called department: the operator who answered gets an incoming
//     entry on behalf of the department; an unanswered call is recorded
//     under the department's id (ids are unique across users and
//     departments).
//
// It is pure: the caller writes the entries.
func historyEntries(rec callRecord, out fork.Outcome) []historyWrite {
	result := out.Result
	if result == "" {
		result = store.ResultFailed
	}
	in := func(user, onBehalfOf, res string) historyWrite {
		return historyWrite{user: user, entry: store.HistoryEntry{Time: rec.start, Direction: store.DirectionIn,
			Peer: rec.callerPeer, Result: res, OnBehalfOf: onBehalfOf, CallID: rec.callID}}
	}
	var ws []historyWrite
	if rec.caller != "" {
		ws = append(ws, historyWrite{user: rec.caller, entry: store.HistoryEntry{Time: rec.start,
			Direction: store.DirectionOut, Peer: rec.target.Number, Result: result,
			OnBehalfOf: rec.onBehalfOf, CallID: rec.callID}})
	}
	ans := out.Answered
	answered := result == fork.ResultAnswered && ans.User != ""
	switch t := rec.target; {
	case t.Kind == ringplan.TargetUser && t.User != nil:
		ws = append(ws, in(t.User.ID, "", result))
		if answered && ans.User != t.User.ID && ans.OnBehalfOf == t.User.ID {
			ws = append(ws, in(ans.User, t.User.ID, store.ResultAnswered))
		}
	case t.Kind == ringplan.TargetDepartment && t.Department != nil:
		if answered {
			ws = append(ws, in(ans.User, t.Department.ID, store.ResultAnswered))
		} else {
			ws = append(ws, in(t.Department.ID, "", result))
		}
	}
	return ws
}

// recordHistory queues a finished call's entries to the store's
// write-behind (no fsync on the call's path); a store error is logged, never
// fatal to the call.
func (s *Server) recordHistory(rec callRecord, out fork.Outcome) {
	for _, w := range historyEntries(rec, out) {
		if err := s.opts.Store.QueueHistory(w.user, w.entry); err != nil {
			s.log.Error("record call history", "call_id", rec.callID, "user", w.user, "error", err)
		}
	}
}
