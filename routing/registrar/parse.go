package registrar

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
	"deskgate/routing/internal/reply"
)

// DateFormat is the RFC 3261 §20.17 Date format (RFC 1123, always GMT),
// for the Date of our 200s and for checking the Date of requests.
const DateFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// defaultExpires is used when a REGISTER names no expiry (clamped to max).
const defaultExpires = 3600

// Refusal is a REGISTER refused before touching the table: the status and
// extra headers to answer with (the same fields as routing.Status, which
// converts it).
type Refusal struct {
	Code    int
	Reason  string
	Headers []sip.Header // Min-Expires on a 423
}

// Request is a parsed REGISTER: either remove everything (Contact: *) or a
// list of changes (Expires not after now = remove that contact; none = a
// query).
type Request struct {
	Wildcard bool
	Changes  []store.Binding
}

// Parse turns a REGISTER into binding changes for user, applying RFC 3261
// §10.3 steps 5–7: wildcard rules, expiry per contact (parameter, then
// Expires header, then the default), min/max clamping, CSeq order against
// the user's current bindings cur.
func Parse(req *sip.Request, user string, cur []store.Binding, minExp, maxExp int, now time.Time) (Request, *Refusal) {
	hdrExp, hasHdr, err := ExpiresHeader(req)
	if err != nil {
		return Request{}, &Refusal{Code: 400, Reason: "Bad Expires"}
	}
	callID, cseq, ua := "", uint32(0), ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	if h := req.CSeq(); h != nil {
		cseq = h.SeqNo
	}
	var contacts []sip.Header
	for _, h := range req.Headers() {
		switch {
		case reply.NameIs(h.Name(), "contact"):
			contacts = append(contacts, h)
		case ua == "" && reply.NameIs(h.Name(), "user-agent"):
			ua = h.Value()
		}
	}
	var out Request
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return Request{}, &Refusal{Code: 400, Reason: "Bad Contact"}
		}
		if c.Address.Wildcard {
			if len(contacts) != 1 || !hasHdr || hdrExp != 0 {
				return Request{}, &Refusal{Code: 400, Reason: "Bad Wildcard Contact"}
			}
			return Request{Wildcard: true}, nil
		}
		exp, rerr := contactExpires(c, hdrExp, hasHdr, minExp, maxExp)
		if rerr != nil {
			return Request{}, rerr
		}
		// Copied: as substrings they would keep the whole Contact line
		// alive for as long as the binding lives.
		instanceID := strings.Clone(strings.Trim(c.Params.GetOr("+sip.instance", ""), `"`))
		regID := strings.Clone(c.Params.GetOr("reg-id", ""))
		b := store.Binding{
			User:       user,
			Contact:    uriString(&c.Address),
			Source:     req.Source(),
			Transport:  strings.ToUpper(req.Transport()),
			CallID:     callID,
			CSeq:       cseq,
			InstanceID: instanceID,
			RegID:      regID,
			UserAgent:  ua,
			Expires:    now.Add(time.Duration(exp) * time.Second),
			Updated:    now,
		}
		if c.Address.Scheme != "sip" && c.Address.Scheme != "sips" || c.Address.Host == "" {
			return Request{}, &Refusal{Code: 400, Reason: "Bad Contact URI"}
		}
		if OutOfOrder(cur, b) {
			return Request{}, &Refusal{Code: 500, Reason: "Out Of Order CSeq"}
		}
		out.Changes = append(out.Changes, b)
	}
	return out, nil
}

// contactExpires picks and clamps one contact's expiry in seconds; 0 means
// remove.
func contactExpires(c *sip.ContactHeader, hdrExp int, hasHdr bool, minExp, maxExp int) (int, *Refusal) {
	exp := min(defaultExpires, maxExp)
	if hasHdr {
		exp = hdrExp
	}
	if v, ok := c.Params.Get("expires"); ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return 0, &Refusal{Code: 400, Reason: "Bad Contact Expires"}
		}
		exp = int(min(n, 1<<31-1))
	}
	switch {
	case exp == 0:
		return 0, nil
	case exp < minExp:
		return 0, &Refusal{Code: 423, Reason: "Interval Too Brief",
			Headers: []sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(minExp))}}
	case exp > maxExp:
		return maxExp, nil
	}
	return exp, nil
}

// ExpiresHeader reads a request's Expires header (delta-seconds only);
// SUBSCRIBE reads its expiry the same way.
func ExpiresHeader(req *sip.Request) (int, bool, error) {
	var h sip.Header
	for _, x := range req.Headers() {
		if reply.NameIs(x.Name(), "expires") {
			h = x
			break
		}
	}
	if h == nil {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, true, fmt.Errorf("expires %q: %w", h.Value(), err)
	}
	return int(min(n, 1<<31-1)), true, nil
}

// OK is the 200 to a REGISTER: every current binding with its remaining
// time, and the Date.
func OK(req *sip.Request, cur []store.Binding, now time.Time) *sip.Response {
	// The same tag for the same request: a retransmitted REGISTER's 200,
	// built again from the bindings (routing/retrans.go), then differs
	// from the first only where the bindings or the clock do.
	res := reply.To(req, 200, "OK", reply.Tag(req))
	for _, b := range cur {
		if v, ok := contactValue(b, now); ok {
			res.AppendHeader(sip.NewHeader("Contact", v))
		}
	}
	res.AppendHeader(sip.NewHeader("Date", date(now)))
	return res
}

// contactValue is a binding's Contact header value in the 200. The stored
// contact is what sipgo wrote for the parsed URI, so it goes out as it is
// (parsing it again only to write it back cost a fifth of the 200);
// anything that could break out of the angle brackets is left out.
func contactValue(b store.Binding, now time.Time) (string, bool) {
	if b.Contact == "" || strings.ContainsFunc(b.Contact, func(r rune) bool {
		return r < 0x21 || r == 0x7f || r == '<' || r == '>'
	}) {
		return "", false
	}
	secs := max(int(b.Expires.Sub(now).Round(time.Second)/time.Second), 0)
	var sb strings.Builder
	sb.Grow(len(b.Contact) + len(b.InstanceID) + len(b.RegID) + 48)
	sb.WriteByte('<')
	sb.WriteString(b.Contact)
	sb.WriteString(">;expires=")
	var num [20]byte
	sb.Write(strconv.AppendInt(num[:0], int64(secs), 10))
	// The phone finds its own binding by these (RFC 5626 §5.2, RFC 5627).
	if b.InstanceID != "" && safeParam(b.InstanceID) {
		sb.WriteString(`;+sip.instance="`)
		sb.WriteString(b.InstanceID)
		sb.WriteByte('"')
	}
	if b.RegID != "" && safeParam(b.RegID) {
		sb.WriteString(";reg-id=")
		sb.WriteString(b.RegID)
	}
	return sb.String(), true
}

// uriString is u as sipgo writes it, in one buffer of about its length
// (Uri.String grows one from nothing: three or four allocations).
func uriString(u *sip.Uri) string {
	n := len(u.Scheme) + len(u.Raw()) + len(u.User) + len(u.Password) + len(u.Host) + 11 // ":@:[]" and a port
	for _, kv := range u.UriParams {
		n += len(kv.K) + len(kv.V) + 2
	}
	for _, kv := range u.Headers {
		n += len(kv.K) + len(kv.V) + 2
	}
	var sb strings.Builder
	sb.Grow(n)
	u.StringWrite(&sb)
	return sb.String()
}

// dateText is the Date of one second.
type dateText struct {
	sec  int64
	text string
}

var lastDate atomic.Pointer[dateText]

// date is now in DateFormat, formatted once per second.
func date(now time.Time) string {
	sec := now.Unix()
	if d := lastDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().Format(DateFormat)}
	lastDate.Store(d)
	return d.text
}

// safeParam reports whether v can be written back as a Contact parameter
// value as-is: no quotes, separators or control characters.
func safeParam(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool {
		return r < 0x21 || r == 0x7f || strings.ContainsRune(`";,\`, r)
	})
}
