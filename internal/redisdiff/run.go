package redisdiff

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/relcache/relcache/internal/resp"
)

// Runner runs programs against a redis-server and a relcache.
type Runner struct {
	Redis, Relcache string        // host:port of each
	Allow           []Difference  // the excuses; Allowed when nil
	Timeout         time.Duration // per batch; 30 s when zero
}

// server is one side of a run: its connections by index.
type server struct {
	addr  string
	conns map[int]*conn
}

type conn struct {
	nc net.Conn
	vr *resp.ValueReader
}

// reply is one reply as read: its bytes and the decoded value, or why the
// connection gave none.
type reply struct {
	raw []byte
	v   resp.Value
	err error
}

// Run runs steps on both servers from an empty keyspace and returns the
// first divergence, if any. An error is a failure of the harness itself (a
// server that cannot be reached), not of either server's answers.
func (r *Runner) Run(steps []Step) (Result, error) {
	res := Result{Excused: map[string]int{}}
	redis, relcache := &server{addr: r.Redis, conns: map[int]*conn{}}, &server{addr: r.Relcache, conns: map[int]*conn{}}
	defer redis.close()
	defer relcache.close()
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	// A hidden FLUSHALL on connection 0 (a printed program starts with it).
	for _, s := range []*server{redis, relcache} {
		got := s.batch(0, [][]string{{"FLUSHALL"}}, timeout)
		if got[0].err != nil || string(got[0].raw) != "+OK\r\n" {
			return res, fmt.Errorf("FLUSHALL on %s: %q %v", s.addr, got[0].raw, got[0].err)
		}
	}
	allow := r.Allow
	if allow == nil {
		allow = Allowed
	}
	tx := map[int]*txState{}
	for i := 0; i < len(steps); {
		st := steps[i]
		if len(st.Args) == 0 {
			time.Sleep(st.Sleep)
			i++
			continue
		}
		j := i
		var batch [][]string
		for ; j < len(steps) && steps[j].Conn == st.Conn && len(steps[j].Args) > 0; j++ {
			batch = append(batch, steps[j].Args)
		}
		want, got := redis.batch(st.Conn, batch, timeout), relcache.batch(st.Conn, batch, timeout)
		if tx[st.Conn] == nil {
			tx[st.Conn] = &txState{}
		}
		for k := range batch {
			d, why := compare(allow, tx[st.Conn], batch[k], want[k], got[k])
			if d != nil {
				d.Index, d.Step = i+k, steps[i+k]
				res.Divergence = d
				return res, nil
			}
			if why != nil {
				res.Excused[why.Why]++
				if why.Lasting {
					r.runRest(redis, relcache, steps[i+len(batch):], timeout)
					return res, nil
				}
			}
			if want[k].err != nil { // both dropped it: QUIT, say
				redis.drop(st.Conn)
				relcache.drop(st.Conn)
				delete(tx, st.Conn)
			}
		}
		i = j
	}
	return res, nil
}

// runRest runs steps without comparing them.
func (r *Runner) runRest(redis, relcache *server, steps []Step, timeout time.Duration) {
	for _, st := range steps {
		if len(st.Args) == 0 {
			continue
		}
		for _, s := range []*server{redis, relcache} {
			if got := s.batch(st.Conn, [][]string{st.Args}, timeout); got[0].err != nil {
				s.drop(st.Conn)
			}
		}
	}
}

// batch writes cmds in one write on connection n (dialled when new) and
// reads a reply to each. A connection that fails is dropped and redialled
// by the next batch; the replies it owed carry the error.
func (s *server) batch(n int, cmds [][]string, timeout time.Duration) []reply {
	out := make([]reply, len(cmds))
	c, err := s.conn(n)
	if err == nil {
		c.nc.SetDeadline(time.Now().Add(timeout))
		var buf []byte
		for _, args := range cmds {
			buf = appendCommand(buf, args)
		}
		_, err = c.nc.Write(buf)
	}
	for i := range out {
		if err == nil {
			out[i].v, out[i].raw, err = c.vr.NextRaw()
		}
		if err != nil {
			out[i].err = err
		}
	}
	if err != nil {
		s.drop(n)
	}
	return out
}

func (s *server) conn(n int) (*conn, error) {
	if c := s.conns[n]; c != nil {
		return c, nil
	}
	nc, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.addr, err)
	}
	c := &conn{nc: nc, vr: resp.NewValueReader(nc)}
	s.conns[n] = c
	return c, nil
}

func (s *server) drop(n int) {
	if c := s.conns[n]; c != nil {
		c.nc.Close()
		delete(s.conns, n)
	}
}

func (s *server) close() {
	for n := range s.conns {
		s.drop(n)
	}
}

// txState follows one connection's MULTI, from Redis's replies, so the
// elements of an EXEC reply are compared as the replies of the commands
// queued: each with its own excuses and ordering rules.
type txState struct {
	multi  bool
	queued [][]string
}

// compare judges one reply pair. It returns the divergence, or the entry
// that excused the difference, or neither when the replies agree.
func compare(allow []Difference, tx *txState, cmd []string, want, got reply) (*Divergence, *Difference) {
	defer tx.follow(cmd, want)
	if want.err != nil || got.err != nil {
		if (want.err == nil) != (got.err == nil) || !closed(want.err) || !closed(got.err) {
			return &Divergence{Cmd: cmd, Sub: -1, Redis: dropped(want), Relcache: dropped(got)}, nil
		}
		return nil, nil // both closed the connection
	}
	if isCmd(cmd, "EXEC") && tx.multi && want.v.Type == '*' && got.v.Type == '*' &&
		len(want.v.Elems) == len(tx.queued) && len(got.v.Elems) == len(tx.queued) && !want.v.Null && !got.v.Null {
		var excused *Difference
		for i, q := range tx.queued {
			w, g := normalized(q, want.v.Elems[i]), normalized(q, got.v.Elems[i])
			if string(w) == string(g) {
				continue
			}
			why := excuse(allow, q, w, g)
			if why == nil {
				return &Divergence{Cmd: q, Sub: i, Redis: w, Relcache: g}, nil
			}
			if excused == nil || why.Lasting {
				excused = why
			}
		}
		return nil, excused
	}
	w, g := want.raw, got.raw
	if unordered(cmd) {
		w, g = normalized(cmd, want.v), normalized(cmd, got.v)
	}
	if string(w) == string(g) {
		return nil, nil
	}
	if why := excuse(allow, cmd, w, g); why != nil {
		return nil, why
	}
	return &Divergence{Cmd: cmd, Sub: -1, Redis: want.raw, Relcache: got.raw}, nil
}

// follow updates the transaction state with Redis's reply to cmd.
func (tx *txState) follow(cmd []string, want reply) {
	status := string(want.raw)
	switch {
	case want.err != nil:
		*tx = txState{}
	case isCmd(cmd, "MULTI") && status == "+OK\r\n":
		*tx = txState{multi: true}
	case tx.multi && status == "+QUEUED\r\n":
		tx.queued = append(tx.queued, cmd)
	case isCmd(cmd, "EXEC"), isCmd(cmd, "DISCARD"):
		*tx = txState{}
	}
}

// closed reports whether err is the connection closing rather than a
// server too slow to answer.
func closed(err error) bool {
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

func dropped(r reply) []byte {
	if r.err != nil {
		return []byte("<no reply: " + r.err.Error() + ">")
	}
	return r.raw
}

func appendCommand(b []byte, args []string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// isCmd reports whether cmd starts with words, case-insensitively.
func isCmd(cmd []string, words ...string) bool {
	if len(cmd) < len(words) {
		return false
	}
	for i, w := range words {
		if !strings.EqualFold(cmd[i], w) {
			return false
		}
	}
	return true
}

// Do sends one command to addr on a connection of its own and returns the
// reply, raw and decoded.
func Do(addr string, args ...string) ([]byte, resp.Value, error) {
	s := &server{addr: addr, conns: map[int]*conn{}}
	defer s.close()
	got := s.batch(0, [][]string{args}, 30*time.Second)[0]
	if got.err != nil {
		return nil, resp.Value{}, fmt.Errorf("%s on %s: %w", args[0], addr, got.err)
	}
	return got.raw, got.v, nil
}

// CommandList returns the names COMMAND LIST reports at addr, lower case:
// what relcache serves, for Gen.Has.
func CommandList(addr string) (map[string]bool, error) {
	raw, v, err := Do(addr, "COMMAND", "LIST")
	if err != nil {
		return nil, err
	}
	if v.Type != '*' {
		return nil, fmt.Errorf("COMMAND LIST on %s: not an array: %q", addr, raw)
	}
	names := make(map[string]bool, len(v.Elems))
	for _, e := range v.Elems {
		names[strings.ToLower(string(e.Str))] = true
	}
	return names, nil
}
