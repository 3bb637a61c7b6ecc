package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/openhash"
)

// workload is the mixed run against a loaded server.
type workload struct {
	cfg   CapacityConfig
	g     *capGraph
	ix    *graphIndex
	redis bool
}

// user draws a user index: uniformly, or by cfg.Zipf (index 0 hottest).
func (w *workload) user(rng *rand.Rand, r *request) int {
	if w.cfg.Zipf <= 1 {
		return rng.IntN(w.g.users)
	}
	if r.zipf == nil {
		r.zipf = rand.NewZipf(rng, w.cfg.Zipf, 1, uint64(w.g.users-1))
	}
	return int(r.zipf.Uint64())
}

func (w *workload) randomUser(rng *rand.Rand, r *request) uint64 { return w.g.uid(w.user(rng, r)) }

// probe is uid i of a batch against u's list: even positions are members of
// it when u follows anyone, odd ones random users.
func (w *workload) probe(rng *rand.Rand, r *request, u, i int) uint64 {
	if i%2 == 0 {
		if m, ok := w.ix.member(u, rng); ok {
			return m
		}
	}
	return w.randomUser(rng, r)
}

// prepare encodes one op of the mix into r.
func (w *workload) prepare(op string, rng *rand.Rand, r *request) error {
	r.reset()
	u := w.user(rng, r)
	a := w.g.uid(u)
	switch op {
	case OpRelcheck:
		if w.redis {
			for i := range relcheckBatch {
				b := w.probe(rng, r, u, i)
				r.hexistsPair(a, b)
			}
			return nil
		}
		r.command(3+relcheckBatch, "RELCHECK")
		r.uid(a)
		r.out = redcon.AppendBulkString(r.out, "BATCH")
		for i := range relcheckBatch {
			r.uid(w.probe(rng, r, u, i))
		}
	case OpRelmulti:
		if w.redis {
			r.command(2+relmultiBatch, "HMGET")
		} else {
			r.command(2+relmultiBatch, "RELMULTI")
			r.nilIsMiss = true
		}
		r.key(a)
		for i := range relmultiBatch {
			r.uid(w.probe(rng, r, u, i))
		}
	case OpRelwho:
		x := w.probe(rng, r, u, 0)
		if w.redis {
			r.command(2, "HKEYS")
			r.key(a)
			r.then = r.membersFollow(x)
			return nil
		}
		r.command(3, "RELWHO")
		r.uid(a)
		r.uid(x)
		r.nilIsMiss = true
	case OpHget:
		r.command(3, "HGET")
		r.key(a)
		r.uid(w.probe(rng, r, u, rng.IntN(2)))
	case OpReload:
		if len(w.ix.pool) == 0 {
			return errors.New("capacity: reload: no user follows anyone")
		}
		pl := w.ix.pool[rng.IntN(len(w.ix.pool))]
		k := w.g.uid(pl.u)
		if w.redis {
			r.command(1, "MULTI")
			r.command(2, "DEL")
			r.key(k)
			for lo := 0; lo < len(pl.following); lo += hsetPairs {
				hi := min(lo+hsetPairs, len(pl.following))
				r.command(2+2*(hi-lo), "HSET")
				r.key(k)
				for i := lo; i < hi; i++ {
					r.uid(pl.following[i])
					r.uid(uint64(pl.times[i]))
				}
			}
			r.command(1, "EXEC")
			return nil
		}
		var err error
		r.array, err = openhash.Build(r.array[:0], pl.following, pl.times, openhash.Options{Seed: rng.Uint64(), Version: w.cfg.setVersion(), Fit: w.cfg.Fit})
		if err != nil {
			return fmt.Errorf("capacity: build the list of uid %d: %w", k, err)
		}
		r.command(3, "SET")
		r.key(k)
		r.out = redcon.AppendBulk(r.out, r.array)
	case OpFollow:
		b := w.randomUser(rng, r)
		for b == a {
			b = w.randomUser(rng, r)
		}
		t := uint64(time.Now().Unix())
		switch {
		case w.redis:
			r.command(4, "HSET")
			r.key(a)
		case w.cfg.Write == "follow":
			r.command(4, "FOLLOW")
			r.uid(a)
		default:
			r.command(6, "RELADD")
			r.key(a)
			r.out = redcon.AppendBulkString(r.out, "XX")
			r.out = redcon.AppendBulkString(r.out, "TIMES")
		}
		r.uid(b)
		r.uid(t)
	case OpRelpair:
		b := w.randomUser(rng, r)
		for b == a {
			b = w.randomUser(rng, r)
		}
		if w.redis {
			r.hexistsPair(a, b)
			return nil
		}
		r.command(3, "RELCHECK")
		r.uid(a)
		r.uid(b)
	default:
		return fmt.Errorf("capacity: unknown op %q", op)
	}
	return nil
}

// opCommand names what an op sends, for the report.
func opCommand(op string, redis bool, write string) string {
	switch {
	case op == OpRelcheck && redis:
		return fmt.Sprintf("%d× HEXISTS a.following b, b.following a (pipeline)", relcheckBatch)
	case op == OpRelcheck:
		return fmt.Sprintf("RELCHECK a BATCH b1..b%d", relcheckBatch)
	case op == OpRelmulti && redis:
		return fmt.Sprintf("HMGET key %d uids", relmultiBatch)
	case op == OpRelmulti:
		return fmt.Sprintf("RELMULTI key %d uids", relmultiBatch)
	case op == OpRelwho && redis:
		return "HKEYS a.following + HEXISTS m.following x per member (pipeline)"
	case op == OpRelwho:
		return "RELWHO a x"
	case op == OpRelpair && redis:
		return "HEXISTS a.following b, HEXISTS b.following a (pipeline)"
	case op == OpRelpair:
		return "RELCHECK a b"
	case op == OpHget:
		return "HGET key uid"
	case op == OpReload && redis:
		return "MULTI DEL key, HSET key ... EXEC"
	case op == OpReload:
		return "SET key <client-built array>"
	case op == OpFollow && redis:
		return "HSET key uid time"
	case op == OpFollow && write == "follow":
		return "FOLLOW a b time"
	case op == OpFollow:
		return "RELADD key XX TIMES uid time"
	}
	return op
}

// hexistsPair appends the Redis-hash form of RELCHECK a b: HEXISTS of b in
// a's list and of a in b's.
func (r *request) hexistsPair(a, b uint64) {
	r.command(3, "HEXISTS")
	r.key(a)
	r.uid(b)
	r.command(3, "HEXISTS")
	r.key(b)
	r.uid(a)
}
