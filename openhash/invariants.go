package openhash

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/relcache/relcache/internal/invariants"
)

// In a build with the invariants tag, every mutation (Build, Grow, Insert,
// Delete) proves its result with the whole-table Check and panics when it
// fails: a format bug then surfaces at the write that made it, not at a
// later read that trusts the bytes. Without the tag these helpers inline to
// nothing.
//
// A mutation may be handed a set that is already inconsistent (one a
// server took with only CheckControl): Insert and Delete promise no more
// than to leave such a set no worse for lookups, so only a set that passed
// Check before is held to it after.
//
// Check is linear in the table and Insert and Delete are constant-time, so
// checking every in-place mutation of a large set would make a test that
// fills a million-member set one Insert at a time quadratic (hours). Sets
// of up to sampleAbove groups are checked at every Insert and Delete;
// larger ones at a random one in ng/sampleAbove, which bounds the cost per
// mutation at about two Checks of a sampleAbove-group set. Build and Grow,
// linear themselves, are always checked.
const sampleAbove = 64 // groups: 512 slots, sets of up to ~480 members

// consistency is whether a set passed Check before a mutation that is to
// be checked; it is always false without the invariants tag.
type consistency bool

// precheck records whether buf, which Open accepted, passes Check ahead of
// an in-place mutation, or false when this mutation goes unchecked.
func precheck(buf []byte) consistency {
	if invariants.Enabled {
		ng := uint64(binary.LittleEndian.Uint32(buf[offGroups:]))
		if ng > sampleAbove && rand.Uint64N(ng/sampleAbove) != 0 {
			return false
		}
		return Check(buf) == nil
	}
	return false
}

// after panics if op left buf, consistent before it, failing Check.
func (c consistency) after(op string, buf []byte) {
	if invariants.Enabled && c {
		mustCheck(op, buf)
	}
}

// built panics if the set op appended to out at start fails Check. It
// slices out itself: a slice expression at the call site would keep its
// bounds check in a build without the tag.
func built(op string, out []byte, start int) {
	if invariants.Enabled {
		mustCheck(op, out[start:])
	}
}

// mustCheck is the check itself, apart from the gates so that it is
// tested in every build.
func mustCheck(op string, buf []byte) {
	if err := Check(buf); err != nil {
		panic(fmt.Errorf("openhash: invariants: %s left a set that fails Check: %w", op, err))
	}
}
