package dirsync

import (
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// syncEnv is one kind of source under the shared phase table (tailscale
// k8s-proxy config_test style): publish changes what the source reads,
// settle returns once the source has looked at the published state.
type syncEnv struct {
	src     Source
	publish func(t *testing.T, doc string)
	settle  func(t *testing.T)
	// retries reports whether the source re-applies a rejected document
	// (the API does, with backoff; the file waits for the next change).
	retries bool
}

func fileEnv(t *testing.T) syncEnv {
	path := filepath.Join(t.TempDir(), "office.yaml")
	src := NewFileSource(FileOptions{Path: path, Debounce: 10 * time.Millisecond, Poll: 50 * time.Millisecond})
	var checks atomic.Int64
	src.checked = func() { checks.Add(1) }
	return syncEnv{
		src:     src,
		publish: func(t *testing.T, doc string) { writeAtomic(t, path, doc) },
		settle: func(t *testing.T) {
			// Two checks: one may have been under way while publishing.
			from := checks.Load()
			eventually(t, "two more file checks", func() bool { return checks.Load() >= from+2 })
		},
	}
}

func apiEnv(t *testing.T) syncEnv {
	api := newFakeAPI(t, "s3cret")
	tok := writeToken(t, t.TempDir(), "s3cret\n", 0o600)
	return syncEnv{
		src:     newTestAPISource(t, fastAPIOptions(api.srv.URL+"/v1/sites/hq/directory", tok)),
		publish: func(t *testing.T, doc string) { api.publish(doc) },
		settle:  func(t *testing.T) { api.waitRequests(t, api.count(), 2) },
		retries: true,
	}
}

func TestPhases(t *testing.T) {
	a, b, c := doc("a"), doc("b"), doc("c")
	bad := "invalid: {\n#end\n"
	phases := []struct {
		name string
		doc  string // published at the start of the phase
		want string // the document apply must get; "" = none
	}{
		{name: "initial", doc: a, want: a},
		{name: "unchanged", doc: a},
		{name: "change", doc: b, want: b},
		{name: "invalid", doc: bad, want: bad},
		{name: "invalid unchanged", doc: bad},
		{name: "valid after invalid", doc: c, want: c},
		{name: "back to an earlier document", doc: a, want: a},
		{name: "unchanged again", doc: a},
	}
	envs := []struct {
		name string
		env  func(t *testing.T) syncEnv
	}{
		{"file", fileEnv},
		{"api", apiEnv},
	}
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			env := e.env(t)
			rec := &recorder{origin: env.src.Origin(), reject: rejectInvalid}
			env.publish(t, phases[0].doc)
			run(t, env.src, rec)
			for i, p := range phases {
				if !t.Run(p.name, func(t *testing.T) { runPhase(t, env, rec, i == 0, p.doc, p.want, bad) }) {
					t.FailNow()
				}
			}
			if _, reports := rec.mark(); reports != 0 {
				t.Errorf("reports %v, want none", rec.reportsSince(0))
			}
		})
	}
}

// runPhase publishes doc and checks that apply then gets exactly want (or
// nothing). A source that retries rejected documents may re-apply bad any
// number of times: then bad is only checked to arrive, not counted.
func runPhase(t *testing.T, env syncEnv, rec *recorder, first bool, doc, want, bad string) {
	from := 0
	if !first { // the first document was published before Run started
		from, _ = rec.mark()
		env.publish(t, doc)
	}
	since := func() []string {
		all, _ := rec.appliesSince(from)
		if env.retries {
			all = slices.DeleteFunc(all, func(s string) bool { return s == bad })
		}
		return all
	}
	var wantList []string
	switch {
	case env.retries && doc == bad:
		// Rejected, so the ETag is not kept: the same body comes again.
		eventually(t, "the rejected document is applied (again)", func() bool {
			all, _ := rec.appliesSince(from)
			return slices.Contains(all, bad)
		})
	case want != "":
		wantList = []string{want}
		eventually(t, "apply gets "+want, func() bool { return slices.Contains(since(), want) })
	default:
		env.settle(t)
	}
	if got := since(); !slices.Equal(got, wantList) {
		t.Errorf("apply got %q, want %q", got, wantList)
	}
}
