package routing_test

import (
	"fmt"
	"testing"
	"time"

	"deskgate/routing/internal/sipptest"
)

func TestSippCallAnswered(t *testing.T) {
	h := newHarness(t)
	phone := sipptest.Start(t, sipptest.Options{Name: "alice-phone", Scenario: scenario("uas_answer.xml"), Timeout: 15 * time.Second})
	h.register("1001", h.password("alice"), phone.Port)
	caller := sipptest.Start(t, sipptest.Options{
		Name: "bob-caller", Scenario: scenario("uac_call.xml"), Remote: h.udp, Service: "1001",
		Inf:   h.usersCSV([3]string{"1002", h.password("bob"), "127.0.0.1:1"}),
		Pause: 500 * time.Millisecond, Timeout: 15 * time.Second,
	})
	if code := caller.Wait(); code != 0 {
		t.Fatalf("caller exit %d\n%s", code, caller.Output())
	}
	if code := phone.Wait(); code != 0 {
		t.Fatalf("phone exit %d\n%s", code, phone.Output())
	}
	for _, m := range phone.Messages() { fmt.Println(m.Sent, m.Text, "\n====") }
}
