// Package openhash stores one user's relation list (the uids they follow, or
// their fans) as a single fixed-length hash table serialized into a []byte.
// The value is loaded with one SET, sent over the network and probed in
// place: there are no pointers, every offset follows from the header (32
// bytes, 40 in format version 3), and the same bytes can be memory-mapped
// as is. docs/openhash-format.md is the byte-level specification; a reader
// in another language needs nothing else.
//
// # Design
//
// Members are uint64 uids with an optional uint32 follow time each, chosen
// per set at build time. Compactness is the point, so:
//
//   - A slot is only as wide as the widest uid needs: 5 bytes for today's
//     10-digit uids, 4 when all uids are below 2^32, up to 8.
//   - Slots come in groups of eight followed by eight control bytes, as in a
//     Swiss table: an empty slot's control byte is 0x00, a full one's is
//     0x80 | 7 hash bits. One 64-bit load of the control word and a SWAR
//     compare (broadcast the tag, xor, (v-lsb) &^ v & msb) find a group's
//     candidate slots without a loop over bytes.
//   - Each uid has two candidate groups (blocked cuckoo hashing), derived
//     from one 64-bit hash by multiply-shift range reduction, so the group
//     count need not be a power of two. A lookup reads at most two groups
//     whatever the bytes say, so probes are bounded without bookkeeping, and
//     deletes need no tombstones. Linear probing over groups, the first
//     plan, averaged 16-17 groups per miss in simulation at the 15/16 load
//     the size targets need.
//   - Build fills at most 15/16 of the slots, which two-choice cuckoo
//     hashing with 8-slot groups reaches with a few hundredths of a
//     displacement per insert; the rest is room for in-place Insert, which
//     keeps succeeding until a set is about 99% full.
//   - Follow times live in a separate region after the groups, so the bytes
//     a membership probe touches stay dense.
//   - Format version 3 (v3.go, written when Options.Version asks for it)
//     keeps the groups but quotients the slots: an invertible permutation of the
//     uid's B bits gives the first group and a quotient whose low 7 bits
//     are the tag, so a slot keeps only the rest of the quotient, a bit
//     for which group it is in, and the follow time as an offset from a
//     per-set base in the same word. Ten-digit uids take 3 bytes a slot
//     instead of 5 from about 100 members on, for about a fifth more CPU
//     per lookup and half more per build (docs/capacity.md), which is why
//     version 1 stays the default.
//
// The lookup loops are generic over the slot width, so each width gets code
// with its sizes as constants, and read the table through unsafe pointers;
// kernel.go explains why every access stays in bounds. On amd64 CPUs with
// AVX2, BMI1 and BMI2 the batch probe (ContainsBatch) runs hand-written
// kernels instead (batch_amd64.s, batch3_amd64.s; a third less CPU, in
// docs/benchmarks.md), which agree with Contains on any bytes; Go's stay
// the path everywhere else and under the purego build tag.
//
// # Trust
//
// Any byte slice can arrive through SET. Validate checks, in time
// independent of the table size, everything memory safety depends on: the
// header fields and that the length is exactly what they imply. Every other
// call is memory-safe on any buffer that passes Validate and never panics;
// on a table whose contents are inconsistent (wrong tags, members in the
// wrong group, duplicates) it may give wrong answers, never out-of-range
// accesses. Check walks the whole table and proves it consistent.
// CheckControl sits between them: one load per group proves that the
// header count equals the members Range yields, which is what a reply that
// states a length before the members needs, at a small fraction of
// Check's cost. Each reports a malformed buffer as a *FormatError naming
// the rule of docs/openhash-format.md it breaks, so callers match on its
// fields, never on its text.
//
// # Use
//
//	v, err := openhash.Build(nil, uids, times, openhash.Options{Seed: seed})
//	...
//	s, err := openhash.Open(v) // header checks, no allocation
//	hits = s.ContainsBatch(hits[:0], query)
//
//	if _, err := openhash.Insert(v, uid, t); errors.Is(err, openhash.ErrFull) {
//		// A new, larger value holding the member; v is unchanged.
//		v, err = openhash.Grow(nil, v, 1+s.Count()/8, openhash.Member{UID: uid, Time: t})
//	}
//
// A Set is a view of the buffer passed to Open: in-place Insert and Delete
// on that buffer show through it, since they never change the layout.
// Nothing here synchronizes; readers and a writer of one buffer need a lock
// held by the caller.
package openhash
