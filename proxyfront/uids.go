package proxyfront

import (
	"strings"

	"github.com/relcache/relcache/internal/resp"
)

// The client's reader parses the decimal uids of a relation batch while
// it frames them (resp.Reader.SetUintCommands, the node's one-pass loop),
// and parseUIDs takes those values instead of parsing the arguments again
// (docs/benchmarks.md, "The proxy reads a batch's decimal uids while it
// frames them").

// uidBatchCommand reports whether the proxy parses the uids after the key
// of the command named name (as sent, any case): RELCHECK and RELFOLLOWS,
// which it splits per node, and RELMULTI when the L1 may answer it. A
// RELMULTI the proxy only forwards is framed by the general loop: parsing
// its digits would be work no one reads.
func (c *client) uidBatchCommand(name []byte) bool {
	switch len(name) {
	case 8:
		return strings.EqualFold(string(name), "relcheck") ||
			c.p.l1 != nil && strings.EqualFold(string(name), "relmulti")
	case 10:
		return strings.EqualFold(string(name), "relfollows")
	}
	return false
}

// appendUIDs appends the values of args, each a decimal uid, to dst: the
// reader's, when it read them while framing them, otherwise ParseUint's;
// ok is false when one does not parse. An HTTP or memcache client has no
// reader.
func (c *client) appendUIDs(dst []uint64, args [][]byte) ([]uint64, bool) {
	if c.rd == nil {
		return resp.AppendUints(dst, args)
	}
	if u, ok := c.rd.Uints(args); ok {
		return append(dst, u...), true
	}
	return resp.AppendUints(dst, args)
}
