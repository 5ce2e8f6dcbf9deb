// Package directory owns the office model (users, phones, departments,
// operators, pairings, schedules): parsing, normalising and validating office
// documents (YAML or JSON) and the immutable Snapshot built from them. It does
// no I/O and must not import any other deskgate package: routing,
// provisioning and the daemon all import it.
package directory

// Document is the office directory exactly as written in office.yaml or sent
// by the upstream API (same schema, YAML or JSON).
type Document struct {
	Version     string              `yaml:"version,omitempty" json:"version,omitempty"`
	Plan        string              `yaml:"plan" json:"plan"`
	Timezone    string              `yaml:"timezone" json:"timezone"`
	Schedules   map[string]Schedule `yaml:"schedules,omitempty" json:"schedules,omitempty"`
	Users       []User              `yaml:"users" json:"users"`
	Phones      []Phone             `yaml:"phones,omitempty" json:"phones,omitempty"`
	Departments []Department        `yaml:"departments,omitempty" json:"departments,omitempty"`
	Pairings    []Pairing           `yaml:"pairings,omitempty" json:"pairings,omitempty"`
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
	Name        string   `yaml:"name,omitempty" json:"name,omitempty"`
	Extension   string   `yaml:"extension" json:"extension"`
	Numbers     []string `yaml:"numbers,omitempty" json:"numbers,omitempty"`
	License     string   `yaml:"license" json:"license"`
	Schedule    string   `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	NoAnswer    string   `yaml:"no_answer,omitempty" json:"no_answer,omitempty"`
	Closed      string   `yaml:"closed,omitempty" json:"closed,omitempty"`
	RingTimeout Duration `yaml:"ring_timeout,omitempty" json:"ring_timeout,omitempty"`
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
	Name        string   `yaml:"name,omitempty" json:"name,omitempty"`
	Extension   string   `yaml:"extension" json:"extension"`
	Numbers     []string `yaml:"numbers,omitempty" json:"numbers,omitempty"`
	Operators   []string `yaml:"operators,omitempty" json:"operators,omitempty"`
	RingTimeout Duration `yaml:"ring_timeout,omitempty" json:"ring_timeout,omitempty"`
	NoAnswer    string   `yaml:"no_answer,omitempty" json:"no_answer,omitempty"`
	Schedule    string   `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Closed      string   `yaml:"closed,omitempty" json:"closed,omitempty"`
}

// Pairing makes Assistant an assistant of Executive.
type Pairing struct {
	Executive   string   `yaml:"executive" json:"executive"`
	Assistant   string   `yaml:"assistant" json:"assistant"`
	State       string   `yaml:"state" json:"state"`
	Permissions []string `yaml:"permissions,omitempty" json:"permissions,omitempty"`
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
