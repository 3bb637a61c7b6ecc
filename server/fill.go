package server

import (
	"context"
	"errors"
	"strings"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// Lazy fill: a read command that finds a relation key missing is answered
// from the source of record instead of as "not cached". The engine that
// loads and stores the lists is package fill; this file is dispatch's side.
//
// The read path never blocks on the source itself. A handler that misses a
// key notes it (client.noteMiss) and answers as if the key were absent;
// dispatch then throws that reply away, fills every noted key (in parallel,
// one query per key however many clients miss it at once), and runs the
// handler a second time, when the keys are there. So handlers stay
// straight-line code, a hit costs nothing extra, and RELCHECK a b1..b500 with
// 500 cold users waits for one parallel round, not 500 sequential ones.

// noteMiss records key as missing for dispatch to fill, if a source is
// configured, the key names a relation list, and this is not already the
// second run.
func (c *client) noteMiss(key []byte) {
	if c.refill || !c.srv.fill.HasSource() {
		return
	}
	if _, kind, ok := c.srv.keys.Parse(key); !ok || kind == shard.Bifollow {
		return // computed from following lists, which note their own misses
	}
	start := len(c.missBuf)
	c.missBuf = append(c.missBuf, key...)
	c.missed = append(c.missed, c.missBuf[start:len(c.missBuf):len(c.missBuf)])
}

// refillMissed is dispatch's second half for a command that missed: drop
// the reply built from "not cached", fill, and run the handler again. A
// handler may need keys it only learns of from a filled one (RELWHO probes
// the members of a list), so there is one more round before the last run,
// which notes nothing and answers what is cached.
func (c *client) refillMissed(cmd *command, args [][]byte, mark int) {
	const refills = 2
	for round := 1; len(c.missed) > 0 || len(c.unsure) > 0; round++ {
		c.out = c.out[:mark]
		err := c.fillNoted()
		if err != nil {
			c.err(fillErrReply(err))
			return
		}
		// The fill changed the keys it stored, which invalidated them for
		// a tracking client (this one too) and took them out of the
		// tracking table: register them again before the second run
		// reads them, and send those invalidations ahead of its reply,
		// which shows the filled lists.
		if c.track.on {
			c.trackRead(cmd, args)
		}
		if c.push.pending.Load() {
			c.drainPushes()
			mark = len(c.out)
		}
		c.refill = round == refills
		cmd.fn(c, args)
		c.refill = false
	}
}

// fillNoted fills the missed keys and asks the source about the unsure
// uids, and forgets both; it returns the first failure.
func (c *client) fillNoted() error {
	// (Views into an outgrown missBuf stay valid: append copied, and
	// nothing writes the old array again.)
	err := c.srv.fill.Fill(context.Background(), c.missed)
	// The lists are filled first: a uid noted in a list that was not
	// cached yet is noted again, if the filled list lacks it, next run.
	if rerr := c.resolveUnsure(); err == nil {
		err = rerr
	}
	c.missed, c.missBuf, c.unsure = c.missed[:0], c.missBuf[:0], c.unsure[:0]
	return err
}

// fillErrReply is the client's error for a failed fill or source write.
func fillErrReply(err error) string {
	var (
		le *fill.LoadError
		re *fill.RefusedError
	)
	switch {
	case errors.As(err, &le):
		return oneLine(le.Error())
	case errors.As(err, &re):
		return "ERR " + re.Error()
	case errors.Is(err, store.ErrOOM):
		return errOOM
	}
	return "ERR " + oneLine(err.Error())
}

// oneLine keeps an error message fit for a RESP simple error.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
