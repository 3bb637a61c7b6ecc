package proxyfront

import (
	"bytes"
	"strings"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/resp"
)

// What the proxy tells a node on every new connection, and learns from it.
//
// CLIENT PROXY ON marks the connection as one that carries many clients'
// commands: a reply over the node's client-output-buffer-limit is then
// answered with an error for that one command, where an ordinary
// connection would be closed, failing every other client's call on it
// (docs/proxy.md).
//
// INFO loader reports the node's source_id, the identity of its source of
// record. FOLLOW a b writes both rows through a's node, and b's node loads
// b's fan list from its own source; so a FOLLOW between users on two nodes
// is refused unless both report the same source (nodes each on their own
// embedded SQLite file would lose it).
//
// Both are queued ahead of the connection's first command, without waiting
// for the answers: a connection costs no extra round trip.

var (
	reqClientProxy = resp.AppendCommand(nil, []byte("CLIENT"), []byte("PROXY"), []byte("ON"))
	reqInfoLoader  = resp.AppendCommand(nil, []byte("INFO"), []byte("loader"))
)

// handshake returns the calls to queue first on a new connection; a
// goroutine takes their answers.
func (b *backend) handshake() []*call {
	mark := &call{req: reqClientProxy, done: make(chan struct{}, 1)}
	info := &call{req: reqInfoLoader, done: make(chan struct{}, 1)}
	go func() {
		mark.wait()
		if mark.err == nil && resp.IsError(mark.reply) && !b.warnedNoProxy.Swap(true) {
			b.log.Warn("node refused CLIENT PROXY ON (an older relcache?): a reply over its client-output-buffer-limit will close a connection other clients share",
				zap.String("reply", resp.ErrorText(mark.reply)))
		}
		info.wait()
		if info.err == nil {
			b.noteSource(info.reply)
		}
	}()
	return []*call{mark, info}
}

// noteSource keeps the source_id of an INFO loader reply; "" when the
// node's INFO has none.
func (b *backend) noteSource(reply []byte) {
	text, ok := resp.Bulk(reply)
	if !ok {
		return // an error, or not INFO's answer: still unknown
	}
	id := ""
	for line := range bytes.SplitSeq(text, []byte("\r\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("source_id:")); ok {
			id = string(v)
			break
		}
	}
	if old := b.source.Swap(&id); old != nil && *old != id {
		b.log.Info("node's source of record changed", zap.String("was", *old), zap.String("now", id))
	}
}

// sourceOf is the node's source_id and whether the proxy knows it yet.
func (b *backend) sourceOf() (string, bool) {
	if p := b.source.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// followAcross checks that a FOLLOW between users on nodes a and b (two
// different nodes) keeps one graph: msg is the refusal, "" when both
// report the same source; known is false while either node's source is
// not known yet.
func followAcross(name string, a, b *backend) (msg string, known bool) {
	idA, okA := a.sourceOf()
	idB, okB := b.sourceOf()
	if !okA || !okB {
		return "", false
	}
	switch {
	case idA == "" || idB == "":
		silent := a
		if idA != "" {
			silent = b
		}
		return "ERR proxy: " + name + " of users on different nodes needs both nodes to write one source of record, and node " +
			silent.name + " (" + silent.addr + ") does not report its source_id in INFO loader", true
	case idA != idB:
		return "ERR proxy: " + name + " of users on different nodes needs both nodes to write one source of record, but node " +
			a.name + " (" + a.addr + ") writes " + oneLine(idA) + " and node " + b.name + " (" + b.addr + ") writes " + oneLine(idB) +
			": give the pool's nodes one shared MySQL source (docs/proxy.md)", true
	}
	return "", true
}

// learnSources asks the nodes whose source the proxy does not know yet for
// INFO loader; it returns a failure to reach one, as the client's reply.
func (c *client) learnSources(bes ...*backend) (errMsg string) {
	ks := make([]*call, len(bes))
	for i, be := range bes {
		if _, ok := be.sourceOf(); ok {
			continue
		}
		k := newCall()
		k.req = append(k.req[:0], reqInfoLoader...)
		c.send(be, k)
		ks[i] = k
	}
	for i, k := range ks {
		if k == nil {
			continue
		}
		c.wait(k)
		switch {
		case errMsg != "":
		case k.err != nil:
			errMsg = k.err.Error()
		case resp.IsError(k.reply):
			errMsg = "ERR proxy: backend " + bes[i].name + " answered INFO loader with " + resp.ErrorText(k.reply)
		default:
			bes[i].noteSource(k.reply)
		}
		k.release()
	}
	return errMsg
}

func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }
