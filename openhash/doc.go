// Package openhash stores one user's relation list (the uids they follow, or
// their fans) as a single fixed-length hash table serialized into a []byte.
// The value is loaded with one SET, sent over the network and probed in
// place: there are no pointers, every offset is a multiple of fixed sizes
// read from a 32-byte header, and the same bytes can be memory-mapped as is.
// docs/openhash-format.md is the byte-level specification; a reader in
// another language needs nothing else.
//
// # Design
//
// Members are uint64 uids with an optional uint32 follow time per member
// (chosen per set at build time). Compactness is the point, so:
//
//   - A slot is only as wide as the widest uid needs: 5 bytes for today's
//     10-digit uids, 4 when all uids are below 2^32, up to 8.
//   - Slots come in groups of eight followed by eight control bytes, as in a
//     Swiss table: an empty slot's control byte is 0x00, a full one's is
//     0x80 | 7 hash bits. One 64-bit load of the control word plus a SWAR
//     compare (broadcast the tag, xor, (v-lsb) &^ v & msb) finds the
//     candidate slots of a group without a loop over bytes.
//   - Each uid has two candidate groups (blocked cuckoo hashing with two
//     choices), derived from one 64-bit hash by Lemire's multiply-shift
//     range reduction, so the group count need not be a power of two. A
//     lookup reads at most two groups, whatever the input bytes say, so a
//     probe is bounded without any bookkeeping and a miss costs the same as
//     a two-group hit. Linear probing over groups was the first plan; at the
//     15/16 load needed for the size targets a simulation put the average
//     miss at 15–17 groups, against exactly 2 here.
//   - Build fills the table to at most 15/16 of its slots, which bucket
//     cuckoo hashing reaches with a fraction of a displacement per insert;
//     the rest is headroom for in-place Insert. Delete just empties a slot:
//     with bounded two-group probes there are no tombstones.
//   - Follow times live in a separate region after the groups, so the bytes
//     a membership probe touches stay dense.
//
// # Trust
//
// Any byte slice can arrive through SET. Validate checks, in time
// independent of the table size, everything that memory safety depends on:
// the header fields and that the length is exactly what they imply. Every
// other call is memory-safe on any buffer that passes Validate and never
// panics; on a table whose contents are inconsistent (wrong tags, members in
// the wrong group, duplicates) it may give wrong answers, never out-of-range
// reads. Check walks the whole table and proves it consistent.
//
// # Use
//
//	v, err := openhash.Build(nil, uids, times, openhash.Options{Seed: seed})
//	...
//	s, err := openhash.Open(v) // header checks, no allocation
//	hits = s.ContainsBatch(hits[:0], query)
//
//	if err := openhash.Insert(v, uid, t); errors.Is(err, openhash.ErrFull) {
//		v, err = openhash.Grow(nil, v, 1+s.Count()/8, uid)
//		...
//		err = openhash.Insert(v, uid, t)
//	}
//
// A Set is a view of the buffer passed to Open: in-place Insert and Delete on
// that buffer are visible through it, since they never change the layout.
// Nothing here synchronizes; readers and a writer of the same buffer need a
// lock held by the caller.
package openhash
