//go:build !linux

package proxyfront

import (
	"io"
	"net"
)

// nodeReader: elsewhere a backend's replies are read through net.Conn.
func nodeReader(nc net.Conn) io.Reader { return nc }
