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
		reason := reasonPhrase(status)
		if status == 480 && c.fbWhy != "" {
			reason = c.fbWhy // the fallback leg failed or timed out: say so
		}
		res = sip.NewResponseFromRequest(c.req, status, reason, nil)
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

// startFallback sends the call on to the fallback URI (no_answer or
// closed, from the directory): through the trunk when one is configured,
// else straight to the URI's host. The caller is never redirected to a
// target it would have to reach through us. When the URI cannot be used
// the caller gets 480 with a reason phrase that says why; so do transport
// errors and timeouts of the fallback leg (onLegEvent).
func (c *call) startFallback() {
	c.out.Fallback = c.fbURI
	t, why := c.fallbackTarget()
	if why != "" {
		c.log.Info("fallback not possible", "fallback", c.fbURI, "reason", why)
		c.agg.finish(480)
		res := sip.NewResponseFromRequest(c.req, 480, why, nil)
		if err := c.tx.Respond(res); err != nil {
			c.log.Info("480 not sent", "error", err)
		}
		c.decided()
		return
	}
	c.fbWhy = "No Answer From " + t.dest
	c.agg.addFallback()
	c.timer.Reset(c.e.maxRing)
	c.startLeg(t)
}

// fallbackTarget addresses the fallback leg, or says why there is none.
func (c *call) fallbackTarget() (target, string) {
	var u sip.Uri
	if err := sip.ParseUri(c.fbURI, &u); err != nil || (u.Scheme != "sip" && u.Scheme != "sips") ||
		u.Host == "" || !safeHeader(u.HostPort()) {
		return target{}, "Forwarding Target Not A SIP URI"
	}
	if addr, tp, ok := c.e.trunk(); ok {
		return target{uri: u, dest: withPort(addr, tp), tp: transport(tp), trunk: true, fallback: true}, ""
	}
	tp := "UDP"
	if v, ok := u.UriParams.Get("transport"); ok && v != "" {
		tp = strings.ToUpper(v)
	}
	if u.Scheme == "sips" {
		return target{}, "Forwarding Target Needs TLS"
	}
	if tp != "UDP" && tp != "TCP" {
		return target{}, "Forwarding Transport " + tp + " Not Supported"
	}
	return target{uri: u, dest: hostPort(u, tp), tp: tp, fallback: true}, ""
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
