package proxyfront

// dialLaterLocked starts a dial of bc on a goroutine of its own, unless
// one is under way (bc.mu held): an event loop's client queues its call
// meanwhile instead of waiting for the connect (up to dial_timeout for a
// node that does not answer) with every other client of its loop.
func (bc *bconn) dialLaterLocked(owner *client) {
	if bc.dialing {
		return
	}
	bc.dialing = true
	bc.lbLoop = owner.lp.loop()
	bc.dialed = true
	// The node's handshake goes first, as after a dial in enqueue.
	for _, h := range bc.be.handshake() {
		bc.wbuf = append(bc.wbuf, h.req...)
		bc.inflight = append(bc.inflight, h)
	}
	go bc.dialNow()
}

// dialNow connects bc and hands what queued meanwhile to its writer, or
// fails every queued call as a failed dial in enqueue fails its one.
func (bc *bconn) dialNow() {
	b := bc.be
	nc, rr, err := b.dial(&bc.progress)
	bc.mu.Lock()
	defer bc.mu.Unlock()
	bc.dialing = false
	if err != nil {
		b.failed(err)
		fail := b.errorf("connect failed: %s", shortErr(err))
		for _, c := range bc.inflight[bc.head:] {
			c.fail(fail)
		}
		clear(bc.inflight)
		bc.inflight, bc.head, bc.unsent = bc.inflight[:0], 0, 0
		bc.wbuf = bc.wbuf[:0]
		return
	}
	b.txChecked.Store(false)
	bc.nc = nc
	bc.gen++
	bc.kick = make(chan struct{}, 1)
	if l := bc.lbLoop; l == nil || !l.takeBackendLocked(bc, nc, rr) {
		go bc.readLoop(nc, rr, bc.gen)
	}
	bc.lbLoop = nil
	go bc.writeLoop(bc.kick, bc.gen)
	if len(bc.wbuf) > 0 {
		bc.writing = true
		bc.kick <- struct{}{}
	}
}
