package fork

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// txKey appends msg's client transaction key to dst: byte for byte the
// key sip.ClientTxKeyMake makes (the top Via's branch, which must carry
// the RFC 3261 magic cookie, sip.TxSeperator, then the CSeq method, ACK
// counting as INVITE; RFC 3261 §17.1.3), with method in place of the CSeq
// method when it is not empty. It reads only sipgo's parsed Via and CSeq.
//
// Why not ClientTxKeyMake: every response of a fork (about a hundred per
// 25-way call) is looked up in our tables, and a key built in a buffer of
// the caller's makes that lookup (m[string(key)]) free of allocation.
func txKey(dst []byte, msg sip.Message, method sip.RequestMethod) ([]byte, bool) {
	cseq := msg.CSeq()
	via := msg.Via()
	if cseq == nil || via == nil {
		return dst, false
	}
	branch, ok := via.Params.Get("branch")
	if !ok || len(branch) <= len(sip.RFC3261BranchMagicCookie) || !strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) {
		return dst, false
	}
	if method == "" {
		method = cseq.MethodName
		if method == sip.ACK {
			method = sip.INVITE
		}
	}
	dst = append(dst, branch...)
	dst = append(dst, sip.TxSeperator...)
	dst = append(dst, method...)
	return dst, true
}

// keyBuf is room for a transaction key on the stack: a branch of sipgo's,
// a phone's or sipp's is well under this; a longer one costs an allocation.
type keyBuf [96]byte
