package proxyfront

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/relcache/relcache/internal/bytesize"
)

// OutputBufferLimit is Redis's client-output-buffer-limit for one class of
// clients: a client whose held reply bytes exceed Hard is closed at once;
// one that stays over Soft for more than SoftSeconds is closed too. 0
// turns a limit off.
type OutputBufferLimit struct {
	Hard, Soft  int64
	SoftSeconds int64
}

// DefaultOutputBufferLimit is Redis's default for its replica class, not
// for its normal one (0 0 0, no limit): Redis's normal clients mostly wait
// for each reply, while a proxy holds whatever the nodes send for a
// client, at the nodes' speed, until the client takes it. 256 MiB still
// fits any single reply a node answers under its own 1 GiB limit that a
// caching front should carry; docs/proxy.md says why.
var DefaultOutputBufferLimit = OutputBufferLimit{Hard: 256 << 20, Soft: 64 << 20, SoftSeconds: 60}

// UnmarshalText reads redis.conf's form, "<hard> <soft> <soft seconds>",
// with sizes in redis.conf units ("256mb 64mb 60"), optionally after the
// class name "normal" so that a line copied from redis.conf reads too.
func (l *OutputBufferLimit) UnmarshalText(b []byte) error {
	f := strings.Fields(string(b))
	if len(f) == 4 {
		if !strings.EqualFold(f[0], "normal") {
			return fmt.Errorf("client_output_buffer_limit %q: the proxy's clients are all of Redis's normal class; want \"<hard> <soft> <soft seconds>\"", b)
		}
		f = f[1:]
	}
	if len(f) != 3 {
		return fmt.Errorf("client_output_buffer_limit %q: want \"<hard> <soft> <soft seconds>\", such as \"256mb 64mb 60\"", b)
	}
	var v OutputBufferLimit
	var err error
	if v.Hard, err = bytesize.Parse(f[0]); err != nil {
		return fmt.Errorf("client_output_buffer_limit hard limit: %w", err)
	}
	if v.Soft, err = bytesize.Parse(f[1]); err != nil {
		return fmt.Errorf("client_output_buffer_limit soft limit: %w", err)
	}
	if v.SoftSeconds, err = strconv.ParseInt(f[2], 10, 64); err != nil || v.SoftSeconds < 0 {
		return fmt.Errorf("client_output_buffer_limit soft seconds %q: want an integer >= 0", f[2])
	}
	*l = v
	return nil
}

// MarshalText writes the form UnmarshalText reads, in bytes.
func (l OutputBufferLimit) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "%d %d %d", l.Hard, l.Soft, l.SoftSeconds), nil
}

// over reports whether a client holding held bytes, over the soft limit
// since softSince (unix nanos; 0: not over it), is to be closed at now
// (unix nanos; read only when held is over the soft limit), and the
// softSince to keep. As in Redis, the soft limit closes a client that
// stays over it for more than SoftSeconds; dropping under it resets the
// clock.
func (l *OutputBufferLimit) over(held, softSince, now int64) (closeIt bool, since int64) {
	if l.Hard > 0 && held > l.Hard {
		return true, softSince
	}
	if l.Soft == 0 || held <= l.Soft {
		return false, 0
	}
	if softSince == 0 {
		return false, now
	}
	return now-softSince > l.SoftSeconds*int64(time.Second), softSince
}
