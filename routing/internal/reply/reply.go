// Package reply builds the responses deskgate answers received requests
// with: what sip.NewResponseFromRequest builds, written out byte for byte
// the same, for a fraction of its allocations. A REGISTER storm answers
// every registration twice (401, then 200), and sipgo's builder clones
// every Via, From, To, Call-ID and CSeq and makes a UUID To tag that the
// registrar then overwrites: about a third of the registration's garbage.
//
// The response shares the request's header values it does not change.
// That is safe because neither the request nor those headers are written
// to after the request is parsed (the transaction keeps both as they are,
// and a proxied request is forwarded as a clone); a caller that wants to
// change a header of the response it got must replace it, not edit it.
package reply

import (
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"net"

	"github.com/emiago/sipgo/sip"
)

// To is sip.NewResponseFromRequest(req, code, reason, nil) for a request
// received from the network (one with its source set; sipgo resolves the
// destination of a response to a request it sent itself from a field of
// the request we cannot read). tag is the To tag added when the request's
// To has none (any status but 100, as sipgo does); "" makes a random one.
//
// Shared with req: the Record-Route (copied on the statuses sipgo copies
// them on), the Vias below the top one, From, Call-ID, CSeq and the
// Timestamp of a 100. Copied: the top Via when RFC 3581 rport/received are
// added to it, and the To when the tag is added.
func To(req *sip.Request, code int, reason, tag string) *sip.Response {
	res := sip.NewResponse(code, reason)
	res.SipVersion = req.SipVersion
	// RFC 3261 §20 Table 3 and §12.1.1, as sipgo decides it.
	copyRR := req.Method != sip.REGISTER && !req.IsAck() &&
		(code >= 180 && code < 190 || code >= 200 && code < 300 || req.IsInvite() && code > 100 && code < 200)
	hdrs := req.Headers()
	if copyRR {
		for _, h := range hdrs {
			if NameIs(h.Name(), "record-route") {
				res.AppendHeader(h)
			}
		}
	}
	top := true
	for _, h := range hdrs {
		if !NameIs(h.Name(), "via") {
			continue
		}
		// sipgo adds rport/received to the response's first Via struct;
		// a Via sipgo did not parse (never the case for a parsed request)
		// is written as it is.
		if v, ok := h.(*sip.ViaHeader); ok && top {
			top = false
			if val, exists := v.Params.Get("rport"); exists && val == "" {
				h = copyVia(v, req.Source())
			}
		}
		res.AppendHeader(h)
	}
	if h := req.From(); h != nil {
		res.AppendHeader(h)
	}
	// The Content-Length sipgo's SetBody(nil) appends (allocating one for
	// every response) shares the allocation of the To when it is copied.
	var length *sip.ContentLengthHeader
	if h := req.To(); h != nil {
		if code != 100 && !h.Params.Has("tag") {
			if tag == "" {
				tag = sip.GenerateTagN(16)
			}
			b := copyTo(h, tag)
			res.AppendHeader(&b.t)
			length = &b.length
		} else {
			res.AppendHeader(h)
		}
	}
	if h := req.CallID(); h != nil {
		res.AppendHeader(h)
	}
	if h := req.CSeq(); h != nil {
		res.AppendHeader(h)
	}
	if code == 100 {
		for _, h := range hdrs {
			if NameIs(h.Name(), "timestamp") {
				res.AppendHeader(h)
			}
		}
	}
	if length == nil {
		length = new(sip.ContentLengthHeader)
	}
	res.AppendHeader(length) // no body

	res.SetTransport(req.Transport())
	res.SetDestination(req.Source())
	return res
}

// viaCopy is a Via copied with room for the usual number of parameters.
type viaCopy struct {
	v  sip.ViaHeader
	kv [4]sip.HeaderKV // branch, rport, received, one more
}

// copyVia is v with RFC 3581 rport and received from src, as sipgo adds
// them.
func copyVia(v *sip.ViaHeader, src string) *sip.ViaHeader {
	b := new(viaCopy)
	b.v = *v
	b.v.Params = append(b.kv[:0:len(b.kv)], v.Params...)
	host, port, _ := net.SplitHostPort(src)
	b.v.Params.Add("rport", port)
	b.v.Params.Add("received", host)
	return &b.v
}

// toCopy is a To copied with room for its parameters, and the response's
// Content-Length.
type toCopy struct {
	t      sip.ToHeader
	kv     [2]sip.HeaderKV // the tag, one more
	length sip.ContentLengthHeader
}

// copyTo is t with the tag added.
func copyTo(t *sip.ToHeader, tag string) *toCopy {
	b := new(toCopy)
	b.t = *t
	b.t.Params = append(append(b.kv[:0:len(b.kv)], t.Params...), sip.HeaderKV{K: "tag", V: tag})
	return b
}

// tagSeed keys Tag: tags are not guessable, nor the same across restarts.
var tagSeed = maphash.MakeSeed()

// Tag is a To tag for our responses to req that is the same for every
// copy of req: a keyed hash of what identifies its transaction (Call-ID,
// From tag, CSeq, top Via branch), in hex. A retransmitted request so gets
// a response with the same tag without anything being kept, and nobody
// without the key can predict one.
func Tag(req *sip.Request) string {
	var h maphash.Hash
	h.SetSeed(tagSeed)
	if c := req.CallID(); c != nil {
		h.WriteString(c.Value())
	}
	h.WriteByte(0)
	if f := req.From(); f != nil {
		tag, _ := f.Params.Get("tag")
		h.WriteString(tag)
	}
	h.WriteByte(0)
	if c := req.CSeq(); c != nil {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], c.SeqNo)
		h.Write(b[:])
	}
	if v := req.Via(); v != nil {
		branch, _ := v.Params.Get("branch")
		h.WriteString(branch)
	}
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], h.Sum64())
	var b [16]byte
	return string(hex.AppendEncode(b[:0], raw[:]))
}

// NameIs reports whether a header name is lower (given in lower case),
// ignoring ASCII case only, as sipgo's GetHeader and GetHeaders compare
// names, without their allocation: they lower-case the name of every
// header they pass.
func NameIs(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
