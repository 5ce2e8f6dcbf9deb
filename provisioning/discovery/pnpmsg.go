package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
)

// SIP PnP as the phones do it (Snom and Gigaset service wiki "SIP Plug &
// Play", Grandstream "Plug & Play Mechanism" for GXP/GRP, Planet VIP manual,
// AudioCodes 400HD admin manual; draft-ietf-sipping-config-framework):
//
//	SUBSCRIBE sip:MAC%3a00135E874B49@intern.snom.de SIP/2.0   (to 224.0.1.75:5060)
//	Via: SIP/2.0/UDP 192.168.10.67:5060;rport
//	From: <sip:MAC%3a00135E874B49@intern.snom.de>;tag=658512961
//	Event: ua-profile;profile-type="device";vendor="OEM";model="OEM";version="7.1.19"
//	Expires: 0
//	Accept: application/url
//	Contact: <sip:192.168.10.67:5060>
//
// answered by a 200 OK and a NOTIFY (Subscription-State: terminated,
// Content-Type: application/url) whose body is the provisioning URL.
// Grandstream phones send the SUBSCRIBE five times and stop on 200 or 500;
// AudioCodes phones send no MAC at all (they cannot be told apart, so they
// are ignored).

// pnpAction is what the responder does with one SUBSCRIBE.
type pnpAction int

const (
	pnpIgnore pnpAction = iota // not a PnP request we can use: drop silently
	pnpRecord                  // a phone we can name but will not answer
	pnpAnswer                  // a directory phone: 200 OK, then NOTIFY with the URL
)

func (a pnpAction) String() string {
	switch a {
	case pnpRecord:
		return "record"
	case pnpAnswer:
		return "answer"
	}
	return "ignore"
}

// pnpDecision is the outcome of decidePnP, with the reason for the log.
type pnpDecision struct {
	Action  pnpAction
	Phone   sighting
	Version string
	Why     string
}

// uaProfile is a parsed "Event: ua-profile;..." header.
type uaProfile struct {
	Package, ProfileType, Vendor, Model, Version string
}

// parseEvent parses an Event header value: the package, then ;key=value
// parameters whose values may be quoted. Keys are case-insensitive.
func parseEvent(v string) uaProfile {
	parts := strings.Split(v, ";")
	ev := uaProfile{Package: strings.ToLower(strings.TrimSpace(parts[0]))}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "profile-type":
			ev.ProfileType = strings.ToLower(val)
		case "vendor":
			ev.Vendor = val
		case "model":
			ev.Model = val
		case "version":
			ev.Version = val
		}
	}
	return ev
}

// parsePnP parses one datagram with sipgo and returns it if it is a request.
// Header sections with a CR or LF outside a CRLF pair are refused: sipgo
// splits lines on CRLF only, so a bare LF would stay inside a header value
// and could be copied into what we send back.
func parsePnP(data []byte) (*sip.Request, error) {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	if bytes.Count(head, []byte("\r")) != bytes.Count(head, []byte("\r\n")) ||
		bytes.Count(head, []byte("\n")) != bytes.Count(head, []byte("\r\n")) {
		return nil, errors.New("parse sip datagram: bare CR or LF in the header section")
	}
	msg, err := sip.ParseMessage(data)
	if err != nil {
		return nil, fmt.Errorf("parse sip datagram: %w", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return nil, errors.New("parse sip datagram: not a request")
	}
	return req, nil
}

// decidePnP decides what to do with a request that reached the PnP socket
// from src. Only directory phones are answered: docs/spec.md gives files only to
// them, and since the SUBSCRIBE is multicast another server on the LAN may
// be the one meant to answer. A 404 would end the phone's transaction before
// that server's 200 arrived (Grandstream phones stop on the first final
// response), so phones we do not know get no response at all; they are
// recorded in the inventory as discovered.
func decidePnP(req *sip.Request, src net.IP, snap *directory.Snapshot) pnpDecision {
	if req.Method != sip.SUBSCRIBE {
		return pnpDecision{Why: "not a SUBSCRIBE: " + string(req.Method)}
	}
	ev := parseEvent(eventHeader(req))
	if ev.Package != "ua-profile" {
		return pnpDecision{Why: "event package is not ua-profile"}
	}
	if !wellFormed(req) {
		return pnpDecision{Why: "missing or malformed version, Via, From, To, Call-ID or CSeq"}
	}
	mac, ok := pnpMAC(req)
	if !ok {
		return pnpDecision{Why: "no MAC in Request-URI, From, To or Contact"}
	}
	vendor, model := identify(ev.Vendor, ev.Model)
	phone := sighting{MAC: mac, Vendor: vendor, Model: model, Address: src.String()}.complete(snap)
	d := pnpDecision{Action: pnpRecord, Phone: phone, Version: cleanToken(ev.Version)}
	switch {
	case ev.ProfileType != "device":
		d.Why = fmt.Sprintf("profile-type %q is not device", cleanToken(ev.ProfileType))
	case snap == nil:
		d.Why = "no directory loaded"
	default:
		if _, known := snap.Phone(mac); !known {
			d.Why = "MAC not in the directory"
			return d
		}
		d.Action, d.Why = pnpAnswer, "directory phone"
	}
	return d
}

// wellFormed checks what the 200 OK copies back and the NOTIFY reuses:
// sipgo parses leniently (docs/libraries.md §1.12), so a request with a Via it could
// not write back meaningfully is not answered.
func wellFormed(req *sip.Request) bool {
	via := req.Via()
	return req.SipVersion == "SIP/2.0" && via != nil && via.ProtocolName == "SIP" &&
		via.ProtocolVersion == "2.0" && strings.EqualFold(via.Transport, "UDP") && via.Host != "" &&
		req.From() != nil && sipURI(req.From().Address) && req.To() != nil && sipURI(req.To().Address) &&
		req.CallID() != nil && req.CallID().Value() != "" &&
		req.CSeq() != nil && req.CSeq().MethodName == sip.SUBSCRIBE
}

func sipURI(u sip.Uri) bool {
	return (u.Scheme == "sip" || u.Scheme == "sips") && u.Host != ""
}

// eventHeader returns the Event header value, long or compact ("o") form.
func eventHeader(req *sip.Request) string {
	for _, name := range []string{"Event", "o"} {
		if h := req.GetHeader(name); h != nil {
			return h.Value()
		}
	}
	return ""
}

// pnpMAC finds the phone's MAC where vendors put it: the Request-URI user
// (Snom, Yealink), From or To user (Planet), or a +sip.instance UUID.
func pnpMAC(req *sip.Request) (string, bool) {
	users := []string{req.Recipient.User, req.From().Address.User, req.To().Address.User}
	for _, u := range users {
		if mac, ok := macFromUser(u); ok {
			return mac, true
		}
	}
	for _, h := range req.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok {
			if v, ok := c.Params.Get("+sip.instance"); ok {
				if mac, ok := macFromInstanceID(v); ok {
					return mac, true
				}
			}
		}
	}
	return "", false
}

// pnpTargets says where the 200 OK and the NOTIFY go. Both go to the
// datagram's source IP, never to another host named in the message, so a
// forged SUBSCRIBE cannot aim our NOTIFY at a third party. The response port
// follows RFC 3261 18.2.2 / RFC 3581 (rport → source port, else the Via
// port); the NOTIFY goes to the Contact's port when the Contact is the
// source IP (RFC 6665: NOTIFYs go to the subscriber's Contact).
func pnpTargets(req *sip.Request, src *net.UDPAddr) (res, notify *net.UDPAddr) {
	res = &net.UDPAddr{IP: src.IP, Port: 5060}
	if via := req.Via(); via != nil {
		switch {
		case via.Params.Has("rport"):
			res.Port = src.Port
		case via.Port > 0:
			res.Port = via.Port
		}
	}
	notify = res
	if c := req.Contact(); c != nil {
		if ip := net.ParseIP(strings.Trim(c.Address.Host, "[]")); ip != nil && ip.Equal(src.IP) {
			notify = &net.UDPAddr{IP: src.IP, Port: 5060}
			if c.Address.Port > 0 {
				notify.Port = c.Address.Port
			}
		}
	}
	return res, notify
}

// pnpResponse builds the 200 OK to the SUBSCRIBE, sent from local. The To
// tag it gets is the dialog's and must be reused as the NOTIFY's From tag.
func pnpResponse(req *sip.Request, src, local *net.UDPAddr) *sip.Response {
	req.SetSource(src.String()) // NewResponseFromRequest fills rport/received from it
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: local.IP.String(), Port: local.Port}})
	res.AppendHeader(sip.NewHeader("Expires", "0"))
	return res
}

// pnpNotify builds the NOTIFY carrying the provisioning URL, in the dialog
// the 200 OK res created. The Request-URI is the subscriber's Contact.
func pnpNotify(req *sip.Request, res *sip.Response, local, dst *net.UDPAddr, provURL string) *sip.Request {
	ruri := sip.Uri{Scheme: "sip", Host: dst.IP.String(), Port: dst.Port}
	if c := req.Contact(); c != nil && c.Address.Host != "" {
		ruri = *c.Address.Clone()
	}
	n := sip.NewRequest(sip.NOTIFY, ruri)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
		Host: local.IP.String(), Port: local.Port, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	via.Params.Add("rport", "")
	n.AppendHeader(via)
	mf := sip.MaxForwardsHeader(70)
	n.AppendHeader(&mf)
	to := res.To() // our side of the dialog, with the tag the 200 OK carried
	n.AppendHeader(&sip.FromHeader{DisplayName: to.DisplayName, Address: *to.Address.Clone(), Params: to.Params.Clone()})
	from := req.From()
	n.AppendHeader(&sip.ToHeader{DisplayName: from.DisplayName, Address: *from.Address.Clone(), Params: from.Params.Clone()})
	callID := *req.CallID()
	n.AppendHeader(&callID)
	n.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.NOTIFY})
	n.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: local.IP.String(), Port: local.Port}})
	n.AppendHeader(sip.NewHeader("Event", notifyEvent(parseEvent(eventHeader(req)))))
	n.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=timeout"))
	n.AppendHeader(sip.NewHeader("Content-Type", "application/url"))
	n.AppendHeader(sip.NewHeader("User-Agent", "deskgate"))
	n.SetBody([]byte(provURL))
	return n
}

// notifyEvent is the NOTIFY's Event header: the subscription's package and
// profile parameters (RFC 6665 wants the same package), rebuilt from the
// parsed values with only safe characters rather than copied verbatim.
func notifyEvent(ev uaProfile) string {
	var b strings.Builder
	b.WriteString("ua-profile")
	for _, p := range [][2]string{{"profile-type", ev.ProfileType}, {"vendor", ev.Vendor}, {"model", ev.Model}, {"version", ev.Version}} {
		if v := quotable(p[1]); v != "" {
			b.WriteString(";" + p[0] + `="` + v + `"`)
		}
	}
	return b.String()
}

// quotable keeps the printable ASCII a quoted-string can hold unescaped.
func quotable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// provisioningURL renders the URL told to a phone reached from local: an
// unspecified host (0.0.0.0, ::, none) becomes local's IP, so a daemon
// listening on all addresses still hands out one the phone can reach.
func provisioningURL(u *url.URL, local net.IP) string {
	out := *u
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if local == nil {
			return u.String()
		}
		h := local.String()
		if p := u.Port(); p != "" {
			out.Host = net.JoinHostPort(h, p)
		} else if local.To4() == nil {
			out.Host = "[" + h + "]"
		} else {
			out.Host = h
		}
	}
	return out.String()
}

// txKey identifies one SUBSCRIBE transaction, so retransmissions get the
// same 200 OK again and no second NOTIFY.
func txKey(req *sip.Request) string {
	branch := ""
	if via := req.Via(); via != nil {
		branch, _ = via.Params.Get("branch")
	}
	tag := ""
	if f := req.From(); f != nil {
		tag, _ = f.Params.Get("tag")
	}
	seq := ""
	if c := req.CSeq(); c != nil {
		seq = strconv.FormatUint(uint64(c.SeqNo), 10)
	}
	call := ""
	if c := req.CallID(); c != nil {
		call = c.Value()
	}
	return call + "|" + seq + "|" + tag + "|" + branch
}
