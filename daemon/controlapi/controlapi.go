// Package controlapi owns the wire format of deskgated's control API (HTTP+JSON
// over a unix socket) and the Client that deskgatectl uses. It imports only
// the standard library, so the CLI links no SIP, database or sync code.
package controlapi

import "time"

// Paths of the control API. {user} is a user id.
const (
	PathStatus        = "/v1/status"
	PathRegistrations = "/v1/registrations"
	PathCalls         = "/v1/calls"
	PathPhones        = "/v1/phones"
	PathReload        = "/v1/reload"
	PathCheck         = "/v1/check"
	PathDND           = "/v1/dnd/"         // + user
	PathAway          = "/v1/away/"        // + user
	PathHistory       = "/v1/history/"     // + user
	PathCredentials   = "/v1/credentials/" // + user; POST with ?rotate=1 rotates
	PathRearm         = "/v1/rearm/"       // + MAC; POST a Rearm
	PathUnblock       = "/v1/unblock/"     // + source address or user; POST
	PathBlocks        = "/v1/blocks"
)

// Status is `deskgatectl status`.
type Status struct {
	Ready         bool            `json:"ready"`
	Version       string          `json:"version"` // deskgated build version
	Site          string          `json:"site"`
	Domain        string          `json:"domain"`
	Started       time.Time       `json:"started"`
	Directory     DirectoryStatus `json:"directory"`
	Registrations int             `json:"registrations"`
	Blocks        []Block         `json:"blocks"`
	Calls         int             `json:"calls"` // calls in progress
	Users         int             `json:"users"`
	Departments   int             `json:"departments"`
	Phones        int             `json:"phones"`
	Restart       []string        `json:"restart_required,omitempty"` // settings changed on reload that need a restart
	Warnings      []string        `json:"warnings,omitempty"`         // optional services that are not running
	// ProvisioningAlerts lists phones whose provisioning secrets went to a
	// new address or were asked for from another one, until re-armed.
	ProvisioningAlerts []string `json:"provisioning_alerts,omitempty"`

	// SIP load: server transactions alive, and requests refused since the
	// start over a source's request budget (503 or dropped) or at the cap.
	Transactions int    `json:"sip_transactions"`
	OverBudget   uint64 `json:"refused_over_budget"`
	OverCap      uint64 `json:"refused_at_transaction_cap"`
	// Fork branch INVITE transactions alive, and the compact records that
	// answer retransmissions after a transaction has ended.
	BranchTransactions int `json:"sip_branch_transactions"`
	Records            int `json:"sip_retransmission_records"`
}

// DirectoryStatus describes the running office directory.
type DirectoryStatus struct {
	Version string    `json:"version"`
	Source  string    `json:"source"` // file, api or store
	Loaded  time.Time `json:"loaded"`
	Error   string    `json:"error"` // last rejected change or fetch error, "" if none
	ErrorAt time.Time `json:"error_at,omitzero"`
}

// Registration is one live binding.
type Registration struct {
	User      string    `json:"user"`
	Contact   string    `json:"contact"`
	Expires   time.Time `json:"expires"`
	Source    string    `json:"source,omitempty"`
	Transport string    `json:"transport,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
}

// Call is one call in progress.
type Call struct {
	CallID  string    `json:"call_id"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	State   string    `json:"state"`
	Started time.Time `json:"started"`
}

// Phone is one row of `deskgatectl phones`.
type Phone struct {
	MAC        string    `json:"mac"`
	User       string    `json:"user"`
	Vendor     string    `json:"vendor"`
	Model      string    `json:"model"`
	Configured bool      `json:"configured"`
	Discovered bool      `json:"discovered"`
	Registered bool      `json:"registered"`
	Address    string    `json:"address"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	// Warnings: keys of the phone's layout that do not fit its model,
	// one sentence each naming the key ([] when all fit).
	Warnings []string `json:"warnings,omitempty"`
	// Secrets is where the phone's file with its SIP password may go:
	// "armed" (the next fetch, from any address) or "bound <ip>"; "" for
	// phones not in the directory.
	Secrets      string `json:"secrets,omitempty"`
	SecretsAlert string `json:"secrets_alert,omitempty"` // see Status.ProvisioningAlerts
}

// Rearm is the body of a POST to PathRearm: with Address, the phone's
// secrets are bound to that IP at once; without, the next fetch binds.
type Rearm struct {
	Address string `json:"address,omitempty"`
}

// Presence is the DND / away state of a user.
type Presence struct {
	User string   `json:"user"`
	DND  bool     `json:"dnd"`
	Away []string `json:"away"` // department ids, ["*"] for all
}

// PresenceChange is the body of a POST to PathDND or PathAway.
type PresenceChange struct {
	On         bool   `json:"on"`
	Department string `json:"department,omitempty"` // away only; "" = all
}

// HistoryEntry is one call in a user's history.
type HistoryEntry struct {
	Time       time.Time `json:"time"`
	Direction  string    `json:"direction"`
	Peer       string    `json:"peer"`
	Result     string    `json:"result"`
	OnBehalfOf string    `json:"on_behalf_of"`
}

// Credentials are a user's SIP credentials.
type Credentials struct {
	User     string `json:"user"`
	Username string `json:"username"`
	Password string `json:"password"`
	Realm    string `json:"realm"`
}

// Block is one refusal after failed digest authentication (`deskgatectl
// blocks`): User "" blocks every request from Source that needs
// authentication; otherwise only that user's.
type Block struct {
	Source   string    `json:"source"`   // IP address
	User     string    `json:"user"`     // user id; the digest username as sent when it names no user; "" = the whole source
	Username string    `json:"username"` // digest username as sent (the extension); "" = the whole source
	Failures int       `json:"failures"` // failed attempts that started the block
	Until    time.Time `json:"until"`    // RFC 3339; the block ends by itself then
}

// Unblocked is the answer to PathUnblock.
type Unblocked struct {
	Target string `json:"target"`
	Lifted int    `json:"lifted"` // blocks lifted
}

// CheckResult is the answer to PathCheck.
type CheckResult struct {
	OK       bool     `json:"ok"`
	Version  string   `json:"version,omitempty"`
	Problems []string `json:"problems"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}
