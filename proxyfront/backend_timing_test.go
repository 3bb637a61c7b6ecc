package proxyfront

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/resp"
)

// loopNode is a node in memory for timing the proxy's side of a backend
// connection alone: every command written to it is answered with reply,
// in order, and read back by the connection's reader. It is no stand-in
// for a relcache node in tests; it only keeps the socket and the node's
// CPU out of the measurement.
type loopNode struct {
	net.Conn // nil: only Read, Write and Close are used
	reqLen   int
	replies  []byte // reply, repeated enough times for the longest write
	reply    int    // len of one reply
	ch       chan []byte
	pending  []byte
	once     sync.Once
}

func (n *loopNode) Write(b []byte) (int, error) {
	n.ch <- n.replies[:len(b)/n.reqLen*n.reply]
	return len(b), nil
}

func (n *loopNode) Read(b []byte) (int, error) {
	if len(n.pending) == 0 {
		p, ok := <-n.ch
		if !ok {
			return 0, io.EOF
		}
		n.pending = p
	}
	k := copy(b, n.pending)
	n.pending = n.pending[k:]
	return k, nil
}

func (n *loopNode) Close() error { n.once.Do(func() { close(n.ch) }); return nil }

// BenchmarkBackendPipeline is one client's pipeline of depth commands
// through one backend connection: queue them, flush, and wait for every
// reply, as client.collect does. It times what the proxy spends per
// command on the connection (queueing, writing, matching replies, waking
// the client) without the system calls.
func BenchmarkBackendPipeline(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			st := backendSettings{connections: 1, timeout: time.Second, dialTimeout: time.Second,
				failureLimit: 2, retryTimeout: time.Second, maxReply: maxReplySize}
			be := newBackend("p", "n", "127.0.0.1:1", st, newMetrics(), zap.NewNop())
			defer be.close()
			req := resp.AppendCommand(nil, []byte("GET"), []byte("key:000000012345"))
			reply := []byte("$64\r\n" + string(make([]byte, 64)) + "\r\n")
			node := &loopNode{reqLen: len(req), reply: len(reply), ch: make(chan []byte, 64)}
			for range depth {
				node.replies = append(node.replies, reply...)
			}
			bc := be.conns[0]
			benchStart(bc, node)
			calls := make([]*call, depth)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				for j := range calls {
					k := newCall()
					k.req = append(k.req[:0], req...)
					be.enqueue(k, bc)
					calls[j] = k
				}
				bc.flush()
				for _, k := range calls {
					k.wait()
					if k.err != nil {
						b.Fatal(k.err)
					}
					k.release()
				}
			}
		})
	}
}

// benchStart opens bc on node as enqueue does after dialling.
func benchStart(bc *bconn, node *loopNode) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	bc.nc, bc.dialed = node, true
	bc.gen++
	bc.kick = make(chan struct{}, 1)
	go bc.readLoop(node, resp.NewReplyReader(progressReader{node, &bc.progress}, maxReplySize), bc.gen)
	go bc.writeLoop(bc.kick, bc.gen)
}
