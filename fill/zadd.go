package fill

import (
	"errors"

	"github.com/relcache/relcache/openhash"
)

// ZAddFlags are ZADD's conditions, as Redis defines them.
type ZAddFlags struct {
	NX, XX, GT, LT, CH bool
}

// ErrNoTimes is ZAdd's error for a score other than 0 on a set built
// without times: it has nowhere to keep it, and dropping it would make
// the write claim a score the set then does not answer.
var ErrNoTimes = errors.New("the relation set has no times, so it cannot hold a score other than 0")

// ZAdd is the edit of ZADD: each uids[i] gets score times[i] where the
// flags allow (NX: new members only, XX: existing only, GT/LT: only a
// higher/lower score for an existing member; a new member is always
// added unless XX). The count is of new members, plus of members whose
// score changed with CH, which is ZADD's reply.
func ZAdd(uids []uint64, times []uint32, f ZAddFlags) SetEdit {
	return func(buf []byte) ([]byte, int, error) {
		// One member at a time, against the set as the earlier ones left
		// it: a uid given twice is added, then updated, as in Redis.
		one, oneT := []uint64{0}, []uint32{0}
		added, changed := 0, 0
		for i, u := range uids {
			set, err := openhash.Open(buf)
			if err != nil {
				return nil, 0, err
			}
			t := times[i]
			old, member := set.Time(u)
			switch {
			case member && (f.NX || f.GT && t <= old || f.LT && t >= old || t == old):
				continue
			case !member && f.XX:
				continue
			case !set.HasTimes() && t != 0:
				return nil, 0, ErrNoTimes
			}
			one[0], oneT[0] = u, t
			var n int
			if buf, n, err = AddMembers(one, oneT, 0)(buf); err != nil {
				return nil, 0, err
			}
			if member {
				changed++
			}
			added += n
		}
		if f.CH {
			return buf, added + changed, nil
		}
		return buf, added, nil
	}
}
