package proxyfront

import (
	"fmt"
	"time"
)

// HTTPConfig is the [http] table: the HTTP/JSON entry (http.go) for
// services that do not speak RESP. It is off unless listen is set. Its
// limits are per request; its connections count against max_clients with
// the RESP ones.
type HTTPConfig struct {
	// Listen is the HTTP address, "host:port". Default "-": no HTTP entry.
	Listen string `toml:"listen"`
	// MaxBodyBytes bounds a request body as sent (compressed or not).
	// Default 1 MiB; >= 1024.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// MaxDecodedBodyBytes bounds a request body after gzip or deflate is
	// undone, so a small compressed body cannot expand without bound (a
	// zip bomb is refused with 413 once it passes this many bytes).
	// Default 8 MiB; >= max_body_bytes.
	MaxDecodedBodyBytes int64 `toml:"max_decoded_body_bytes"`
	// MaxHeaderBytes bounds the request line and headers. Default 16 KiB
	// (net/http's own default is 1 MiB); >= 1024.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// ReadTimeout bounds reading one request, headers and body: a client
	// that trickles bytes (slowloris) is closed when it passes. Default
	// 10s; > 0.
	ReadTimeout Duration `toml:"read_timeout"`
	// WriteTimeout bounds writing a response, from the end of the request
	// headers. Default 30s; > 0 and at least request_timeout.
	WriteTimeout Duration `toml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that sends no next
	// request for this long. Default 60s; > 0.
	IdleTimeout Duration `toml:"idle_timeout"`
	// RequestTimeout is the longest a request may wait for the nodes; a
	// client's own deadline (the timeout parameter or the
	// X-Relcache-Timeout header) may only shorten it. Past it the answer
	// is 504. Default 5s; > 0.
	RequestTimeout Duration `toml:"request_timeout"`
}

const (
	defHTTPListen              = adminOff
	defHTTPMaxBodyBytes        = 1 << 20
	defHTTPMaxDecodedBodyBytes = 8 << 20
	defHTTPMaxHeaderBytes      = 16 << 10
	defHTTPReadTimeout         = 10 * time.Second
	defHTTPWriteTimeout        = 30 * time.Second
	defHTTPIdleTimeout         = 60 * time.Second
	defHTTPRequestTimeout      = 5 * time.Second
	minHTTPBytes               = 1024
)

// On reports whether the HTTP entry is configured.
func (h *HTTPConfig) On() bool { return h.Listen != "" && h.Listen != adminOff }

func (h *HTTPConfig) fillDefaults() {
	set := func(d *Duration, v time.Duration) {
		if d.Duration == 0 {
			d.Duration = v
		}
	}
	if h.Listen == "" {
		h.Listen = defHTTPListen
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = defHTTPMaxBodyBytes
	}
	if h.MaxDecodedBodyBytes == 0 {
		h.MaxDecodedBodyBytes = max(defHTTPMaxDecodedBodyBytes, h.MaxBodyBytes)
	}
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = defHTTPMaxHeaderBytes
	}
	set(&h.ReadTimeout, defHTTPReadTimeout)
	set(&h.WriteTimeout, max(defHTTPWriteTimeout, h.RequestTimeout.Duration))
	set(&h.IdleTimeout, defHTTPIdleTimeout)
	set(&h.RequestTimeout, defHTTPRequestTimeout)
}

// validate checks the table after fillDefaults; listen and admin are the
// other addresses, which it must not share.
func (h *HTTPConfig) validate(listen, admin string) error {
	switch {
	case h.MaxBodyBytes < minHTTPBytes:
		return fmt.Errorf("http.max_body_bytes %d: want at least %d (0 means the default, %d)", h.MaxBodyBytes, minHTTPBytes, defHTTPMaxBodyBytes)
	case h.MaxDecodedBodyBytes < h.MaxBodyBytes:
		return fmt.Errorf("http.max_decoded_body_bytes %d: want at least http.max_body_bytes (%d)", h.MaxDecodedBodyBytes, h.MaxBodyBytes)
	case h.MaxHeaderBytes < minHTTPBytes:
		return fmt.Errorf("http.max_header_bytes %d: want at least %d (0 means the default, %d)", h.MaxHeaderBytes, minHTTPBytes, defHTTPMaxHeaderBytes)
	case h.ReadTimeout.Duration < 0, h.WriteTimeout.Duration < 0, h.IdleTimeout.Duration < 0, h.RequestTimeout.Duration < 0:
		return fmt.Errorf("http timeouts must be > 0 (read_timeout %s, write_timeout %s, idle_timeout %s, request_timeout %s)",
			h.ReadTimeout.Duration, h.WriteTimeout.Duration, h.IdleTimeout.Duration, h.RequestTimeout.Duration)
	case h.WriteTimeout.Duration < h.RequestTimeout.Duration:
		return fmt.Errorf("http.write_timeout %s is shorter than http.request_timeout %s: a request that waits its whole time could not be answered", h.WriteTimeout.Duration, h.RequestTimeout.Duration)
	}
	if !h.On() {
		return nil
	}
	if err := checkListenAddr(h.Listen); err != nil {
		return fmt.Errorf("http.listen: %w (or \"-\" to disable it)", err)
	}
	if (h.Listen == listen || h.Listen == admin) && !hasPortZero(h.Listen) {
		return fmt.Errorf("http.listen %q is also listen or admin; give it a port of its own", h.Listen)
	}
	return nil
}

func hasPortZero(addr string) bool { return len(addr) > 2 && addr[len(addr)-2:] == ":0" }
