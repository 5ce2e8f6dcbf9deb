package ringplan

// PickFinal chooses the final response a forking proxy sends upstream when
// no branch answered 2xx (RFC 3261 §16.7 step 6). statuses are the final
// status codes of the branches (synthesise 408 for a branch that timed out
// and 503 for one that could not be reached); values outside 200..699 are
// ignored. The rules, in order:
//
//   - no final response at all → 408 Request Timeout (§16.7);
//   - a 2xx, if one is given, wins (step 5 forwards it at once anyway);
//   - then any 6xx ("6xx cancels the rest": the callee refuses everywhere);
//   - otherwise the lowest class wins: 3xx, then 4xx, then 5xx;
//   - within 4xx, codes that let the caller resubmit are preferred (401,
//     407, then 415, 420, 484), then 486 Busy Here (it tells the caller the
//     callee is on the phone), then the lowest code;
//   - within other classes the lowest code, except that 503 ranks last in
//     5xx and is sent as 500: a 503 from one phone must not make the caller
//     think this proxy is unavailable (§16.7 step 6).
//
// The result does not depend on the order of statuses. When the winner is
// 401 or 407 the executor merges the challenges of every 401/407 (§16.7).
func PickFinal(statuses []int) int {
	best := 0
	for _, s := range statuses {
		if s < 200 || s > 699 {
			continue
		}
		if best == 0 || better(s, best) {
			best = s
		}
	}
	switch best {
	case 0:
		return 408
	case 503:
		return 500
	}
	return best
}

// better reports whether status a ranks before status b.
func better(a, b int) bool {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// rank orders statuses: class first, then the preferences within a class.
func rank(s int) int {
	class := 0
	switch s / 100 {
	case 6:
		class = 10
	case 3:
		class = 20
	case 4:
		class = 30
	case 5:
		class = 40
	}
	switch s {
	case 401, 407:
		return class
	case 415, 420, 484:
		return class + 1
	case 486:
		return class + 2
	case 503:
		return class + 4
	}
	return class + 3
}

// reasonPhrase is the standard phrase for the statuses Make produces.
func reasonPhrase(status int) string {
	switch status {
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	}
	return ""
}
