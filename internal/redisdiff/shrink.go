package redisdiff

// Shrink cuts steps down to a smaller program that still fails, by delta
// debugging (Zeller's ddmin over the steps): it tries removing chunks, from
// halves down to single steps, keeping every removal after which fails
// still holds, until no single step can go or maxTries calls are spent. The
// result is 1-minimal when the budget allows: removing any one step makes
// it pass. fails must judge each candidate from a clean start.
func Shrink(steps []Step, fails func([]Step) bool, maxTries int) (shrunk []Step, tries int) {
	n := 2
	for len(steps) >= 2 && tries < maxTries {
		chunk := (len(steps) + n - 1) / n
		removed := false
		for start := 0; start < len(steps) && tries < maxTries; start += chunk {
			end := min(start+chunk, len(steps))
			candidate := append(append([]Step(nil), steps[:start]...), steps[end:]...)
			tries++
			if fails(candidate) {
				steps, removed = candidate, true
				n = max(n-1, 2)
				break
			}
		}
		if removed {
			continue
		}
		if n >= len(steps) {
			break
		}
		n = min(2*n, len(steps))
	}
	return steps, tries
}
