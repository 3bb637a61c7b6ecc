package server

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Crafted relation sets, as a client that builds its own arrays could send
// them: the header passes openhash.Validate, the table does not pass
// openhash.Check. They work on the bytes alone (docs/openhash-format.md),
// so they know nothing the server's own code knows. Exported for the
// integration tests in package server_test.

// Format offsets the crafting needs. The groups start after the header:
// 32 bytes in versions 1 and 2, 40 in version 3 (craftHeaderOf).
const (
	craftWidth  = 6
	craftGroups = 8
	craftCount  = 12
)

// craftHeaderOf is where buf's groups start.
func craftHeaderOf(buf []byte) int {
	if buf[4] == 3 {
		return 40
	}
	return 32
}

func craftLayout(buf []byte) (width, ngroups, gbytes int) {
	width = int(buf[craftWidth])
	ngroups = int(binary.LittleEndian.Uint32(buf[craftGroups:]))
	return width, ngroups, 8*width + 8
}

// CraftCount returns a copy of buf with the header count set to n, the
// table left as it is: the defect of issue 14.
func CraftCount(buf []byte, n uint32) []byte {
	out := bytes.Clone(buf)
	binary.LittleEndian.PutUint32(out[craftCount:], n)
	return out
}

// CraftDuplicate returns a copy of buf in which one member also occupies a
// free slot of its own group (same uid, same tag), the count raised by
// one, so the count matches the table: header checks and the control-word
// count pass, the full check finds the uid twice. ok is false when no
// group has both a member and a free slot.
func CraftDuplicate(buf []byte) (out []byte, ok bool) {
	width, ng, gb := craftLayout(buf)
	craftHeader := craftHeaderOf(buf)
	out = bytes.Clone(buf)
	for g := range ng {
		grp := out[craftHeader+g*gb : craftHeader+(g+1)*gb]
		ctrl := grp[8*width:]
		full, free := -1, -1
		for i := range 8 {
			switch {
			case ctrl[i]&0x80 != 0 && full < 0:
				full = i
			case ctrl[i] == 0 && free < 0:
				free = i
			}
		}
		if full < 0 || free < 0 {
			continue
		}
		copy(grp[free*width:(free+1)*width], grp[full*width:(full+1)*width])
		ctrl[free] = ctrl[full]
		// The time region (if any) keeps a zero time for the copy, which
		// the full check does not mind for a full slot.
		n := binary.LittleEndian.Uint32(out[craftCount:])
		binary.LittleEndian.PutUint32(out[craftCount:], n+1)
		return out, true
	}
	return nil, false
}

// CraftWrongTag returns a copy of buf in which the first member's control
// byte holds another tag: still a full slot, so it is listed and counted,
// but no lookup finds it. ok is false for an empty set, and for a
// version-3 set, whose tag is part of the member (another tag is another
// member, docs/openhash-format.md section 7).
func CraftWrongTag(buf []byte) (out []byte, ok bool) {
	if buf[4] == 3 {
		return nil, false
	}
	width, ng, gb := craftLayout(buf)
	const craftHeader = 32
	out = bytes.Clone(buf)
	for g := range ng {
		ctrl := out[craftHeader+g*gb+8*width : craftHeader+(g+1)*gb]
		for i := range 8 {
			if ctrl[i]&0x80 != 0 {
				ctrl[i] = 0x80 | (ctrl[i]+1)&0x7f
				return out, true
			}
		}
	}
	return nil, false
}

// Occupied counts the full control bytes of buf, as a reader iterating the
// table sees them.
func Occupied(buf []byte) int {
	width, ng, gb := craftLayout(buf)
	craftHeader := craftHeaderOf(buf)
	n := 0
	for g := range ng {
		c := binary.LittleEndian.Uint64(buf[craftHeader+g*gb+8*width:])
		n += bits.OnesCount64(c & 0x8080808080808080)
	}
	return n
}
