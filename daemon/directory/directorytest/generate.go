package directorytest

import (
	"fmt"
	"strings"
)

// GenerateOffice returns a valid office document (YAML) with the given
// numbers of users and departments, for benchmarks and load tests: user i
// has extension 100000+i, number +1555200xxxx and, for four users in five, a
// phone (Yealink and Poly alternating); department j has extension 90000+j
// and up to 25 operators; every tenth user has an active assistant (the
// next user); every seventh user not in a pairing has a contact_center
// license. The output is deterministic.
func GenerateOffice(users, depts int) []byte {
	var b strings.Builder
	b.WriteString("version: \"generated\"\nplan: enterprise\ntimezone: America/New_York\n")
	b.WriteString("schedules:\n  business:\n    mon-fri: [\"09:00-17:00\"]\n    closed_dates: [\"2026-12-25\"]\n")
	b.WriteString("users:\n")
	for i := range users {
		license := "talk"
		if i%10 > 1 && i%7 == 0 {
			license = "contact_center"
		}
		fmt.Fprintf(&b, "  - id: user%d\n    name: User %d\n    extension: \"%d\"\n    numbers: [\"+1555%07d\"]\n    license: %s\n",
			i, i, 100000+i, 2000000+i, license)
		if i%3 == 0 {
			fmt.Fprintf(&b, "    schedule: business\n    no_answer: \"sip:vm-%d@voicemail.example.test\"\n    ring_timeout: 25s\n", 100000+i)
		}
	}
	if depts > 0 {
		b.WriteString("departments:\n")
	}
	for j := range depts {
		fmt.Fprintf(&b, "  - id: dept%d\n    name: Department %d\n    extension: \"%d\"\n    numbers: [\"+1555%07d\"]\n    ring_timeout: 30s\n    schedule: business\n    operators: [",
			j, j, 90000+j, 9000000+j)
		for k := 0; k < 25 && k < users; k++ {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "user%d", (j*25+k)%users)
		}
		b.WriteString("]\n")
	}
	writePhones(&b, users)
	writePairings(&b, users)
	return []byte(b.String())
}

func writePhones(b *strings.Builder, users int) {
	if users == 0 {
		return
	}
	b.WriteString("phones:\n")
	for i := range users {
		if i%5 == 4 {
			continue
		}
		oui, model := "00:15:65", "yealink-t54w"
		if i%2 == 1 {
			oui, model = "00:04:f2", "poly-vvx450"
		}
		fmt.Fprintf(b, "  - {mac: \"%s:%02x:%02x:%02x\", model: %s, user: user%d}\n", oui, i>>16&0xff, i>>8&0xff, i&0xff, model, i)
	}
}

func writePairings(b *strings.Builder, users int) {
	if users < 2 {
		return
	}
	b.WriteString("pairings:\n")
	for i := 0; i+1 < users; i += 10 {
		fmt.Fprintf(b, "  - {executive: user%d, assistant: user%d, state: active, permissions: [voicemail]}\n", i, i+1)
	}
}
