package fork

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// sendFinal sends the call's final response upstream: leg from's own
// response when it has that status, else one of ours. A 401/407 carries
// the challenges of every 401/407 received (RFC 3261 §16.7 step 6).
func (c *call) sendFinal(status, from int) {
	var res *sip.Response
	if from >= 0 && c.legs[from].res != nil && c.legs[from].res.StatusCode == status {
		res = c.upstream(c.legs[from].res)
	} else {
		res = sip.NewResponseFromRequest(c.req, status, reasonPhrase(status), nil)
	}
	if status == 401 || status == 407 {
		c.mergeChallenges(res, from)
	}
	if err := c.tx.Respond(res); err != nil {
		c.log.Info("final response not sent", "status", status, "error", err)
	}
	c.decided()
}

func (c *call) mergeChallenges(res *sip.Response, from int) {
	for i, l := range c.legs {
		if i == from || l.res == nil || (l.res.StatusCode != 401 && l.res.StatusCode != 407) {
			continue
		}
		for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
			for _, h := range l.res.GetHeaders(name) {
				res.AppendHeader(sip.HeaderClone(h))
			}
		}
	}
}

// startFallback sends the call on to the fallback URI through the trunk.
// Without a trunk (or with a URI we cannot parse as SIP) the caller gets a
// 302 naming it, so a phone or upstream PBX can follow it itself.
func (c *call) startFallback() {
	c.out.Fallback = c.fbURI
	var u sip.Uri
	err := sip.ParseUri(c.fbURI, &u)
	addr, tp, ok := c.e.trunk()
	if err != nil || !ok || (u.Scheme != "sip" && u.Scheme != "sips") {
		status := 302
		if !safeHeader(c.fbURI) || strings.ContainsAny(c.fbURI, "<>") {
			status = 480 // cannot name it safely: as if there were no fallback
		}
		c.log.Info("fallback by redirect", "fallback", c.fbURI, "trunk", ok, "status", status)
		c.agg.finish(status)
		res := sip.NewResponseFromRequest(c.req, status, reasonPhrase(status), nil)
		if status == 302 {
			res.AppendHeader(sip.NewHeader("Contact", "<"+c.fbURI+">"))
		}
		if err := c.tx.Respond(res); err != nil {
			c.log.Info("redirect not sent", "error", err)
		}
		c.decided()
		return
	}
	c.agg.addFallback()
	c.timer.Reset(c.e.maxRing)
	t := target{uri: u, dest: withPort(addr, tp), tp: transport(tp), trunk: true}
	c.startLeg(t)
}

// decided records the final result once and emits EventEnded.
func (c *call) decided() {
	if c.ended {
		return
	}
	c.ended = true
	c.out.Status = c.agg.final
	c.out.Cancelled = c.agg.callerGone
	c.out.TimedOut = c.agg.timedOut
	c.out.Result = result(c.out.Status, c.out.TimedOut)
	if c.out.Fallback != "" && !c.out.Cancelled {
		c.out.Result = ResultMissed // the callee did not take it, whoever did
	}
	if c.out.Cancelled {
		c.out.Status = 487
		c.out.Result = ResultMissed
	}
	c.e.emit(Event{Kind: EventEnded, CallID: c.id, Status: c.out.Status, Outcome: c.out})
}

// branchEnded emits EventBranchEnded for a leg that failed.
func (c *call) branchEnded(i int) {
	a := c.agg.legs[i]
	if a.state == legFailed {
		c.e.emit(Event{Kind: EventBranchEnded, CallID: c.id, Branch: c.legs[i].branch, Status: a.status})
	}
}
