package proxyfront

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/resp"
)

// The HTTP/JSON entry ([http] listen) serves services that do not speak
// RESP. Each request becomes one RESP command (GET /v1/relation?a=1&b=2,3
// is RELCHECK 1 2 3) that runs through the same command table as a RESP
// client's: a client of the proxy's own, with no socket, whose handle and
// finish do the routing, per-node splitting, fail-over, ejection and
// output limits; only the reply is rendered as JSON. So there is one route
// to the nodes, and the HTTP entry cannot answer what RESP would not.
//
// Per request: authenticate (basic or bearer, Authenticator), read the
// body within max_body_bytes and, decoded, max_decoded_body_bytes, build
// the command, ask Allowed, run it under the request's deadline, render,
// compress when the client accepts it. A request whose deadline passes
// gets 504 at once; its command stops starting new rounds, and the
// connection reads no next request until the rounds already sent are
// answered (each is bounded by its pool's timeout), so a client cannot
// pile up work past its deadlines.

// httpEntry is the HTTP server and what it needs beyond the proxy.
type httpEntry struct {
	p        *Proxy
	auth     atomic.Pointer[authBox]
	srv      *http.Server
	ln       net.Listener
	requests *prometheus.CounterVec // relcache_proxy_http_requests_total{route,code}
}

type authBox struct{ a Authenticator }

// SetAuthenticator replaces how HTTP requests are authenticated and
// authorised (default: the proxy's password). Call it between Listen,
// which creates the HTTP entry, and Serve; without an entry it does
// nothing.
func (p *Proxy) SetAuthenticator(a Authenticator) {
	if p.web != nil {
		p.web.auth.Store(&authBox{a})
	}
}

// HTTPAddr is the HTTP entry's address, or "-" when it is off.
func (p *Proxy) HTTPAddr() string {
	if p.web == nil {
		return adminOff
	}
	return p.web.ln.Addr().String()
}

// listenHTTP opens the HTTP listener when [http] listen is set.
func (p *Proxy) listenHTTP(cfg *Config) error {
	if !cfg.HTTP.On() {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
	}
	h := &httpEntry{p: p, ln: ln, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relcache_proxy_http_requests_total",
		Help: "Requests to the HTTP/JSON entry, by route and status code."}, []string{"route", "code"})}
	p.metrics.reg.MustRegister(h.requests)
	h.auth.Store(&authBox{usersAuth{p}})
	hc := cfg.HTTP
	h.srv = &http.Server{
		Handler:           h.mux(),
		ReadTimeout:       hc.ReadTimeout.Duration,
		ReadHeaderTimeout: hc.ReadTimeout.Duration,
		WriteTimeout:      hc.WriteTimeout.Duration,
		IdleTimeout:       hc.IdleTimeout.Duration,
		MaxHeaderBytes:    hc.MaxHeaderBytes,
		ConnState:         h.connState,
		ErrorLog:          zap.NewStdLog(p.log.Named("http")),
	}
	p.web = h
	return nil
}

// connState counts HTTP connections with the RESP ones against
// max_clients; a connection past it gets 503 and is closed.
func (h *httpEntry) connState(nc net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		if h.p.nconns.Add(1) > int64(h.p.cfgNow().MaxClients) {
			body := `{"error":"ERR max number of clients reached"}`
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(nc, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			nc.Close()
		}
	case http.StateClosed, http.StateHijacked:
		h.p.nconns.Add(-1)
	}
}

func (h *httpEntry) serve() {
	if err := h.srv.Serve(h.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		h.p.log.Error("http entry stopped", zap.Error(err))
	}
}

// shutdown lets requests in flight finish (up to grace), then closes.
func (h *httpEntry) shutdown(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if h.srv.Shutdown(ctx) != nil {
		h.srv.Close()
	}
}

// apiError is a refusal the HTTP entry makes itself, with its status.
type apiError struct {
	status int
	msg    string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ERR " + fmt.Sprintf(format, args...)}
}

// endpoint turns a parsed request into the RESP command it runs and the
// function that renders that command's reply (one complete RESP reply,
// never an error: errors are answered before render is called).
type endpoint func(r *request) (args [][]byte, render renderFunc, err *apiError)

// renderFunc appends the JSON object's members for reply to dst.
type renderFunc = func(dst, reply []byte) ([]byte, *apiError)

// request is what an endpoint reads: the HTTP request and its decoded
// body (nil for GET).
type request struct {
	*http.Request
	body []byte
	cfg  *Config
}

// handle wraps an endpoint with authentication, body limits and decoding,
// the deadline, the run and the response's encoding.
func (h *httpEntry) handle(ep endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cfg := h.p.cfgNow()
		auth := h.auth.Load().a
		id, err := auth.Authenticate(credentials(r))
		if err != nil {
			writeError(w, r, authStatus(err), err.Error())
			return
		}
		req := &request{Request: r, cfg: cfg}
		if r.Method == http.MethodPost {
			body, aerr := readBody(w, r, &cfg.HTTP)
			if aerr != nil {
				writeError(w, r, aerr.status, aerr.msg)
				return
			}
			req.body = body
		}
		timeout, aerr := requestTimeout(r, cfg.HTTP.RequestTimeout.Duration)
		if aerr != nil {
			writeError(w, r, aerr.status, aerr.msg)
			return
		}
		args, render, aerr := ep(req)
		if aerr != nil {
			writeError(w, r, aerr.status, aerr.msg)
			return
		}
		if len(args) > maxMultibulk {
			// RESP's limit on one command's arguments, as the RESP reader
			// enforces it.
			writeError(w, r, http.StatusBadRequest, "ERR Protocol error: invalid multibulk length")
			return
		}
		if err := auth.Allowed(id, args); err != nil {
			writeError(w, r, authStatus(err), err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		reply := h.p.runHTTP(ctx, r.RemoteAddr, id.handle, args)
		select {
		case out := <-reply:
			if resp.IsError(out) {
				msg := resp.ErrorText(out)
				writeError(w, r, replyStatus(msg), msg)
				return
			}
			body, aerr := render(append(make([]byte, 0, 64), `{`...), out)
			if aerr != nil {
				writeError(w, r, aerr.status, aerr.msg)
				return
			}
			writeJSON(w, r, http.StatusOK, append(body, "}\n"...))
		case <-ctx.Done():
			writeError(w, r, http.StatusGatewayTimeout, msgDeadline)
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			// The connection's next request waits until the rounds already
			// sent are answered or time out: no work piles up past a
			// deadline.
			<-reply
		}
	}
}

const msgDeadline = "ERR proxy: the request's deadline passed before the nodes answered"

// runHTTP runs args as a client of the proxy's own and sends its reply
// (one RESP reply) on the channel when done. Past ctx's deadline the
// client starts no new sub-request, but the replies of those sent are
// still taken as a RESP client's would be: a FOLLOW whose reply were
// dropped would count as failed, and its fan list on the other node would
// be dropped and its replicas not patched, for a write that happened.
func (p *Proxy) runHTTP(ctx context.Context, remote string, user *acl.Handle, args [][]byte) <-chan []byte {
	if user == nil {
		user = p.users.Default()
	}
	c := &client{p: p, id: p.nextID.Add(1), nc: httpConn{remote}, user: user, authed: true, ctx: ctx,
		scratch: make([]byte, 0, 64)}
	done := make(chan []byte, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				p.log.Error("panic while serving an HTTP request", zap.Any("panic", r))
				done <- []byte("-ERR proxy: internal error\r\n")
			}
		}()
		c.handle(args)
		c.flushBackends()
		for i, o := range c.pending {
			o.finish(c)
			c.pending[i] = nil
		}
		if c.l1.writing {
			c.l1Sync()
		}
		done <- c.out
	}()
	return done
}

// httpConn stands in for the socket of an HTTP request's client: the
// reply is taken from the client's buffer, never written. Close (an
// output limit's kill) needs nothing: the request ends with its command.
type httpConn struct{ remote string }

func (httpConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (httpConn) Write(b []byte) (int, error)      { return len(b), nil }
func (httpConn) Close() error                     { return nil }
func (httpConn) LocalAddr() net.Addr              { return httpAddr("http") }
func (c httpConn) RemoteAddr() net.Addr           { return httpAddr(c.remote) }
func (httpConn) SetDeadline(time.Time) error      { return nil }
func (httpConn) SetReadDeadline(time.Time) error  { return nil }
func (httpConn) SetWriteDeadline(time.Time) error { return nil }

type httpAddr string

func (a httpAddr) Network() string { return "http" }
func (a httpAddr) String() string  { return string(a) }

// credentials are the request's user and password: HTTP basic, or a
// bearer token as the password of user "" (the default user, as AUTH
// <password>); "", "" when it sends none.
func credentials(r *http.Request) (user, pass string) {
	if u, p, ok := r.BasicAuth(); ok {
		return u, p
	}
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return "", strings.TrimSpace(a[7:])
	}
	return "", ""
}

func authStatus(err error) int {
	var ae *AuthError
	if errors.As(err, &ae) && ae.Status != 0 {
		return ae.Status
	}
	return http.StatusForbidden
}

// replyStatus is the HTTP status of a RESP error reply, chosen by its code
// and, for the proxy's own errors, its words.
func replyStatus(msg string) int {
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "NOAUTH", "WRONGPASS":
		return http.StatusUnauthorized
	case "NOPERM":
		return http.StatusForbidden
	case "WRONGTYPE", "TRUNCATED":
		// TRUNCATED: the list is cached only in part and this answer is
		// not known (docs/commands.md, "Truncated lists").
		return http.StatusConflict
	case "LOADFAIL", "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "OOM":
		return http.StatusServiceUnavailable
	case "ERR":
	default:
		return http.StatusInternalServerError
	}
	switch {
	case msg == msgDeadline:
		return http.StatusGatewayTimeout
	case strings.HasPrefix(msg, "ERR proxy: backend ") && strings.Contains(msg, ") timed out after "):
		return http.StatusGatewayTimeout
	case strings.HasPrefix(msg, "ERR proxy: backend ") && strings.Contains(msg, " answered "),
		strings.HasPrefix(msg, "ERR proxy: a node listed "):
		return http.StatusBadGateway
	case strings.HasPrefix(msg, "ERR proxy: backend "), strings.HasPrefix(msg, "ERR proxy: reply dropped"),
		msg == "ERR max number of clients reached":
		return http.StatusServiceUnavailable
	case strings.HasPrefix(msg, "ERR stored relation set is corrupt"):
		return http.StatusInternalServerError
	case strings.HasSuffix(msg, "needs a source of record to write to (serve with --source sqlite or mysql)"),
		strings.Contains(msg, " of users on different nodes needs both nodes to write one source of record"):
		// What this deployment cannot do, whoever asks.
		return http.StatusNotImplemented
	}
	// The rest are the argument refusals a node or the proxy makes before
	// running anything (wrong arguments, bad uids, LIMIT, a user following
	// itself, too many uids).
	return http.StatusBadRequest
}

// readBody reads a POST body within max_body_bytes as sent and, with
// Content-Encoding gzip or deflate, within max_decoded_body_bytes decoded.
func readBody(w http.ResponseWriter, r *http.Request, hc *HTTPConfig) ([]byte, *apiError) {
	if r.ContentLength > hc.MaxBodyBytes {
		return nil, tooLarge("http.max_body_bytes", hc.MaxBodyBytes)
	}
	src := http.MaxBytesReader(w, r.Body, hc.MaxBodyBytes)
	var dec io.Reader = src
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, bodyError(err, hc, "gzip")
		}
		dec = zr
	case "deflate":
		// RFC 9110's deflate is zlib-wrapped; some clients send raw
		// deflate, told apart by zlib's two-byte header check.
		br := bufio.NewReader(src)
		hdr, _ := br.Peek(2)
		if len(hdr) == 2 && hdr[0]&0x0f == 8 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, bodyError(err, hc, "deflate")
			}
			dec = zr
		} else {
			dec = flate.NewReader(br)
		}
	default:
		return nil, &apiError{http.StatusUnsupportedMediaType, "ERR unsupported Content-Encoding " + strconv.Quote(enc) + ": send gzip, deflate or none"}
	}
	body, err := io.ReadAll(io.LimitReader(dec, hc.MaxDecodedBodyBytes+1))
	if err != nil {
		return nil, bodyError(err, hc, "body")
	}
	if int64(len(body)) > hc.MaxDecodedBodyBytes {
		return nil, tooLarge("http.max_decoded_body_bytes", hc.MaxDecodedBodyBytes)
	}
	return body, nil
}

func tooLarge(setting string, n int64) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("ERR request body larger than %s (%d bytes)", setting, n)}
}

func bodyError(err error, hc *HTTPConfig, what string) *apiError {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge("http.max_body_bytes", hc.MaxBodyBytes)
	case errors.As(err, &ne) && ne.Timeout():
		return &apiError{http.StatusRequestTimeout, "ERR request body not received within http.read_timeout (" + hc.ReadTimeout.Duration.String() + ")"}
	}
	return badRequest("invalid %s in the request body: %s", what, oneLine(err.Error()))
}

// requestTimeout is the request's deadline: request_timeout, shortened by
// the timeout parameter or X-Relcache-Timeout header (a Go duration).
func requestTimeout(r *http.Request, limit time.Duration) (time.Duration, *apiError) {
	v := r.URL.Query().Get("timeout")
	if v == "" {
		v = r.Header.Get("X-Relcache-Timeout")
	}
	if v == "" {
		return limit, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badRequest("timeout %s: want a positive duration such as \"250ms\"", strconv.Quote(v))
	}
	return min(d, limit), nil
}

// Responses.

// compressMin: a smaller body is sent as is, since gzip's header and
// trailer (18 bytes) and the compressor's setup cost more than they save.
const compressMin = 512

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="relcache", charset="UTF-8"`)
	}
	q, _ := json.Marshal(msg) // a string always marshals
	b := append([]byte(`{"error":`), q...)
	writeJSON(w, r, status, append(b, "}\n"...))
}

var (
	gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
	zlibWriters = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed); return w }}
)

// writeJSON sends body, compressed when the client accepts gzip or
// deflate and the body is big enough to gain from it.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Add("Vary", "Accept-Encoding")
	enc := ""
	if len(body) >= compressMin {
		enc = pickEncoding(r.Header.Values("Accept-Encoding"))
	}
	if enc == "" {
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	hdr.Set("Content-Encoding", enc)
	w.WriteHeader(status)
	if enc == "gzip" {
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(w)
		zw.Write(body)
		zw.Close()
		gzipWriters.Put(zw)
		return
	}
	zw := zlibWriters.Get().(*zlib.Writer)
	zw.Reset(w)
	zw.Write(body)
	zw.Close()
	zlibWriters.Put(zw)
}

// pickEncoding chooses gzip or deflate from Accept-Encoding values (with
// q-values; q=0 refuses, "*" stands for any not named), gzip first at
// equal weight; "" for none.
func pickEncoding(values []string) string {
	q := map[string]float64{}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			weight := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil || f < 0 || f > 1 {
					continue
				}
				weight = f
			}
			if name == "x-gzip" {
				name = "gzip"
			}
			if _, seen := q[name]; !seen {
				q[name] = weight
			}
		}
	}
	best, bestQ := "", 0.0
	for _, enc := range []string{"gzip", "deflate"} {
		w, ok := q[enc]
		if !ok {
			w, ok = q["*"]
		}
		if ok && w > bestQ {
			best, bestQ = enc, w
		}
	}
	return best
}
