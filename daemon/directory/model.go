// Package directory owns the office model (users, phones, departments,
// operators, pairings, schedules): parsing and validating office documents and
// the immutable Snapshot built from them. It does no I/O and imports nothing of
// deskgate's.
package directory

// Document is the office directory exactly as written in office.yaml or sent
// by the upstream API (same schema, YAML or JSON).
type Document struct {
	Version     string              `yaml:"version" json:"version"`
	Plan        string              `yaml:"plan" json:"plan"`
	Timezone    string              `yaml:"timezone" json:"timezone"`
	Schedules   map[string]Schedule `yaml:"schedules" json:"schedules"`
	Users       []User              `yaml:"users" json:"users"`
	Phones      []Phone             `yaml:"phones" json:"phones"`
	Departments []Department        `yaml:"departments" json:"departments"`
	Pairings    []Pairing           `yaml:"pairings" json:"pairings"`
}

// Plans.
const (
	PlanStandard   = "standard"
	PlanPro        = "pro"
	PlanEnterprise = "enterprise"
)

// Licenses.
const (
	LicenseTalk          = "talk"
	LicenseSell          = "sell"
	LicenseContactCenter = "contact_center"
)

// Pairing states and permissions.
const (
	PairingActive  = "active"
	PairingPending = "pending"

	PermVoicemail   = "voicemail"
	PermTranscripts = "transcripts"
	PermRecordings  = "recordings"
)

// User is one person with an extension.
type User struct {
	ID          string   `yaml:"id" json:"id"`
	Name        string   `yaml:"name" json:"name"`
	Extension   string   `yaml:"extension" json:"extension"`
	Numbers     []string `yaml:"numbers" json:"numbers"`
	License     string   `yaml:"license" json:"license"`
	Schedule    string   `yaml:"schedule" json:"schedule"`
	NoAnswer    string   `yaml:"no_answer" json:"no_answer"`
	Closed      string   `yaml:"closed" json:"closed"`
	RingTimeout Duration `yaml:"ring_timeout" json:"ring_timeout"`
}

// Phone is a desk phone of the office; MAC is normalised to lower-case
// colon-separated hex by Parse.
type Phone struct {
	MAC   string `yaml:"mac" json:"mac"`
	Model string `yaml:"model" json:"model"`
	User  string `yaml:"user" json:"user"`
}

// Department is a line rung on all its operators at once.
type Department struct {
	ID          string   `yaml:"id" json:"id"`
	Name        string   `yaml:"name" json:"name"`
	Extension   string   `yaml:"extension" json:"extension"`
	Numbers     []string `yaml:"numbers" json:"numbers"`
	Operators   []string `yaml:"operators" json:"operators"`
	RingTimeout Duration `yaml:"ring_timeout" json:"ring_timeout"`
	NoAnswer    string   `yaml:"no_answer" json:"no_answer"`
	Schedule    string   `yaml:"schedule" json:"schedule"`
	Closed      string   `yaml:"closed" json:"closed"`
}

// Pairing makes Assistant an assistant of Executive.
type Pairing struct {
	Executive   string   `yaml:"executive" json:"executive"`
	Assistant   string   `yaml:"assistant" json:"assistant"`
	State       string   `yaml:"state" json:"state"`
	Permissions []string `yaml:"permissions" json:"permissions"`
}

// Active reports whether the pairing has effect.
func (p Pairing) Active() bool { return p.State == PairingActive }

// Has reports whether the pairing grants perm.
func (p Pairing) Has(perm string) bool {
	for _, x := range p.Permissions {
		if x == perm {
			return true
		}
	}
	return false
}
