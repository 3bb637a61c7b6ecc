package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// The operations of the mixed workload, in report order.
const (
	OpRelcheck = "relcheck" // RELCHECK a b1..b50 | 100 HEXISTS in one pipeline
	OpRelmulti = "relmulti" // RELMULTI key 500 uids | HMGET key 500 fields
	OpRelwho   = "relwho"   // RELWHO a x | HKEYS, then HEXISTS m.following x per member in one pipeline
	OpHget     = "hget"     // HGET key uid on both: the compatibility path
	OpReload   = "reload"   // SET of a freshly built array | MULTI DEL, HSET ... EXEC
	OpFollow   = "follow"   // RELADD key XX TIMES uid time (or FOLLOW a b time) | HSET key uid time
	OpRelpair  = "relpair"  // RELCHECK a b, one pair | HEXISTS a.following b, HEXISTS b.following a in one pipeline
)

var capacityOps = []string{OpRelcheck, OpRelmulti, OpRelwho, OpHget, OpReload, OpFollow, OpRelpair}

// DefaultMix is the mix `relcache-bench capacity` runs unless told otherwise:
// mostly reads, as a relation service sees, with list reloads (cache fills)
// and writes at 5% each.
const DefaultMix = "relcheck=40,relmulti=30,relwho=5,hget=15,reload=5,follow=5"

// MixEntry is one operation of the workload and its relative weight.
type MixEntry struct {
	Op     string `json:"op"`
	Weight int    `json:"weight"`
}

// ParseMix reads "op=weight,op=weight,...". Ops are those of capacityOps;
// weights are non-negative integers, at least one positive; an op with
// weight 0 or left out does not run.
func ParseMix(s string) ([]MixEntry, error) {
	var mix []MixEntry
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op, w, ok := strings.Cut(part, "=")
		op = strings.ToLower(strings.TrimSpace(op))
		if !ok {
			return nil, fmt.Errorf("mix %q: %q is not op=weight", s, part)
		}
		if !slices.Contains(capacityOps, op) {
			return nil, fmt.Errorf("mix %q: unknown op %q (want one of %s)", s, op, strings.Join(capacityOps, ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix %q: weight of %s %q is not a non-negative integer", s, op, w)
		}
		if slices.ContainsFunc(mix, func(e MixEntry) bool { return e.Op == op }) {
			return nil, fmt.Errorf("mix %q: %s given twice", s, op)
		}
		if n > 0 {
			mix = append(mix, MixEntry{op, n})
			total += n
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: no op has a positive weight", s)
	}
	slices.SortFunc(mix, func(a, b MixEntry) int {
		return slices.Index(capacityOps, a.Op) - slices.Index(capacityOps, b.Op)
	})
	return mix, nil
}

// mixPicker draws the ops of a mix by weight.
type mixPicker struct {
	cum   []int // cum[i] is the weight of ops 0..i together
	total int
}

func newMixPicker(mix []MixEntry) mixPicker {
	p := mixPicker{cum: make([]int, len(mix))}
	for i, e := range mix {
		p.total += e.Weight
		p.cum[i] = p.total
	}
	return p
}

// pick returns the index in the mix of a random op: op i with probability
// its weight over the total.
func (p mixPicker) pick(rng *rand.Rand) int { return p.at(rng.IntN(p.total)) }

// at maps r in [0, total) to its op: the first Weight values to op 0, the
// next to op 1, and so on.
func (p mixPicker) at(r int) int {
	i, _ := slices.BinarySearch(p.cum, r+1)
	return i
}
