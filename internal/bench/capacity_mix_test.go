package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMixPicker pins how a draw maps to an op: each op owns as many draws as
// its weight, in mix order, and an op of weight 0 owns none.
func TestMixPicker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []int
		want    []int // the op of each draw 0..total-1
	}{
		{"one op", []int{3}, []int{0, 0, 0}},
		{"two ops", []int{1, 2}, []int{0, 1, 1}},
		{"weight 0 never drawn", []int{2, 0, 1}, []int{0, 0, 2}},
		{"weight 0 first", []int{0, 1, 1}, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mix []MixEntry
			for i, w := range tc.weights {
				mix = append(mix, MixEntry{capacityOps[i], w})
			}
			p := newMixPicker(mix)
			if p.total != len(tc.want) {
				t.Fatalf("total %d, want %d", p.total, len(tc.want))
			}
			var got []int
			for r := range p.total {
				got = append(got, p.at(r))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("draws map to ops %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMixPickerDraws checks that pick follows the weights of DefaultMix.
func TestMixPickerDraws(t *testing.T) {
	mix, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	p := newMixPicker(mix)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	counts := make([]int, len(mix))
	for range n {
		counts[p.pick(rng)]++
	}
	for i, e := range mix {
		want := float64(n) * float64(e.Weight) / float64(p.total)
		if got := float64(counts[i]); got < 0.9*want || got > 1.1*want {
			t.Errorf("%s drawn %d times of %d, want about %.0f", e.Op, counts[i], n, want)
		}
	}
}
