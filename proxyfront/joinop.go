package proxyfront

// A joinOp is a composed command (RELCHECK across nodes) whose reply is
// built from several calls once all of them are answered. Under the
// goroutine model it is an opFunc like any other: finish waits for its
// calls. An event loop's drain (drainLocked), which runs on a backend's
// reader and must never wait, finishes it only once every call has its
// reply (ready), so a RELCHECK that the L1 cannot answer stays on the
// loop instead of handing its client over to a goroutine for good.
type joinOp struct {
	ks []*call // every call fn awaits
	fn opFunc
}

func (j joinOp) finish(c *client) { j.fn(c) }

// ready reports whether every call of j is answered, so that finish will
// not wait; retry is set when one failed and would be retried on another
// pool (await re-sends it and waits: the goroutine model's work). Each
// call's token is taken and put back, not peeked at: the receive is what
// orders the backend's writes of reply and err before the reads here.
func (j joinOp) ready() (ok, retry bool) {
	for _, k := range j.ks {
		select {
		case <-k.done:
			k.done <- struct{}{} // cap 1, just emptied: never blocks
		default:
			return false, false
		}
		if k.err != nil && k.read && k.pool+1 < len(k.t.reads) {
			return true, true
		}
	}
	return true, false
}
