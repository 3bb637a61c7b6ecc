package proxyfront

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/shard"
)

// The HTTP entry's routes and how each maps onto one RESP command. The
// RESP layer checks the arguments (uids, LIMIT, arity), so a bad uid gets
// the same words over HTTP as over RESP. Uids in replies are decimal
// strings: a JSON number past 2^53 loses precision in JavaScript, and
// uids are 64-bit. Uids in requests may be numbers or strings.

//go:embed openapi.json
var openAPIDoc []byte

// httpRoute is one method and path of the entry; docs/openapi.json lists
// exactly these (TestHTTPRoutesMatchOpenAPI).
type httpRoute struct {
	method, pattern string
	ep              endpoint // nil: served without a command (the document)
}

func httpRoutes() []httpRoute {
	return []httpRoute{
		{"GET", "/v1/relation", epRelationQuery},
		{"POST", "/v1/relation", epRelationBody},
		{"POST", "/v1/multi", epMulti},
		{"GET", "/v1/members/{uid}/{kind}", epMembers},
		{"GET", "/v1/members/{uid}/{kind}/count", epCount},
		{"GET", "/v1/who", epPair("RELWHO", "x")},
		{"GET", "/v1/common", epPair("RELCOMMON", "b")},
		{"POST", "/v1/follow", epFollow("FOLLOW")},
		{"POST", "/v1/unfollow", epFollow("UNFOLLOW")},
		{"GET", "/v1/openapi.json", nil},
	}
}

// mux dispatches by path, then by method, answering 404 and 405 in JSON
// like every other refusal.
func (h *httpEntry) mux() http.Handler {
	mux := http.NewServeMux()
	byPath := map[string]map[string]http.Handler{}
	var order []string
	for _, rt := range httpRoutes() {
		if byPath[rt.pattern] == nil {
			byPath[rt.pattern] = map[string]http.Handler{}
			order = append(order, rt.pattern)
		}
		var hd http.Handler = h.handle(rt.ep)
		if rt.ep == nil {
			hd = http.HandlerFunc(serveOpenAPI)
		}
		byPath[rt.pattern][rt.method] = hd
	}
	for _, pattern := range order {
		methods := byPath[pattern]
		var allow []string
		for m := range methods {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w}
			w = sw
			defer func() { h.count(r.Method+" "+pattern, sw.status) }()
			hd := methods[r.Method]
			if hd == nil && r.Method == http.MethodHead {
				hd = methods[http.MethodGet]
			}
			if hd == nil {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(w, r, http.StatusMethodNotAllowed, "ERR method "+r.Method+" not allowed on "+pattern+": use "+strings.Join(allow, " or "))
				return
			}
			hd.ServeHTTP(w, r)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.count("other", http.StatusNotFound)
		writeError(w, r, http.StatusNotFound, "ERR no such endpoint "+strconv.Quote(r.URL.Path)+": see /v1/openapi.json")
	})
	return mux
}

// count adds a request to relcache_proxy_http_requests_total; route is
// one of the entry's routes (bounded: never the client's path).
func (h *httpEntry) count(route string, status int) {
	if status == 0 {
		status = http.StatusOK
	}
	h.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// statusWriter remembers the status a handler sent, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, http.StatusOK, openAPIDoc) }

// --- Request parsing --------------------------------------------------------

// query reads the query string, refusing parameters the endpoint does not
// take (a misspelt "befor" must not be silently ignored).
func query(r *request, allowed ...string) (map[string][]string, *apiError) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("invalid query string: %s", oneLine(err.Error()))
	}
	for k := range q {
		if k != "timeout" && !slices.Contains(allowed, k) {
			return nil, badRequest("unknown query parameter %s", strconv.Quote(k))
		}
	}
	return q, nil
}

// one is the single value of parameter k; "" when absent.
func one(q map[string][]string, k string) (string, *apiError) {
	switch v := q[k]; len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", badRequest("query parameter %s given more than once", k)
}

// decodeBody decodes a JSON object into v, refusing unknown fields and
// anything after the object.
func decodeBody(r *request, v any) *apiError {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return badRequest("the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %s", oneLine(err.Error()))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("invalid JSON body: data after the object")
	}
	return nil
}

// uidText is a uid as the request wrote it: a JSON number's text or a
// string's contents. The RESP layer checks it is an unsigned 64-bit
// integer; anything else (null, 1.5, -1, "x") is refused there with its
// words.
func uidText(raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
	}
	return raw
}

func uidTexts(raws []json.RawMessage) [][]byte {
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = uidText(r)
	}
	return out
}

// listKey builds uid's list key of kind; the kind is "following" or
// "follower" whatever the key pattern names them.
func listKey(r *request, uidStr, kindStr string) ([]byte, *apiError) {
	uid, ok := resp.ParseUint([]byte(uidStr))
	if !ok {
		return nil, &apiError{http.StatusBadRequest, resp.ErrRelMember}
	}
	var kind shard.Kind
	switch kindStr {
	case "following":
		kind = shard.Following
	case "follower":
		kind = shard.Follower
	default:
		return nil, badRequest("kind %s: want following or follower", strconv.Quote(kindStr))
	}
	key, err := r.cfg.KeyPatternParsed.Append(nil, uid, kind)
	if err != nil {
		return nil, badRequest("the proxy's key_pattern names no %s lists", kindStr)
	}
	return key, nil
}

// --- Endpoints --------------------------------------------------------------

// GET /v1/relation?a=1&b=2,3,4 → RELCHECK 1 2 3 4
func epRelationQuery(r *request) ([][]byte, renderFunc, *apiError) {
	q, aerr := query(r, "a", "b")
	if aerr != nil {
		return nil, nil, aerr
	}
	a, aerr := one(q, "a")
	if aerr != nil {
		return nil, nil, aerr
	}
	var bs [][]byte
	for _, v := range q["b"] {
		for part := range strings.SplitSeq(v, ",") {
			bs = append(bs, []byte(part))
		}
	}
	return relcheck([]byte(a), bs)
}

// POST /v1/relation {"a":1,"b":[2,3,4]} → RELCHECK 1 2 3 4, for batches
// too long for a URL.
func epRelationBody(r *request) ([][]byte, renderFunc, *apiError) {
	if _, aerr := query(r); aerr != nil {
		return nil, nil, aerr
	}
	var body struct {
		A json.RawMessage   `json:"a"`
		B []json.RawMessage `json:"b"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		return nil, nil, aerr
	}
	var a []byte
	if body.A != nil {
		a = uidText(body.A)
	}
	return relcheck(a, uidTexts(body.B))
}

func relcheck(a []byte, bs [][]byte) ([][]byte, renderFunc, *apiError) {
	switch {
	case len(a) == 0:
		return nil, nil, badRequest("missing a: the user whose relations are asked")
	case len(bs) == 0:
		return nil, nil, badRequest("missing b: the users to check a's relation to")
	}
	// The BATCH form: an array whatever the number of b's, as the JSON is.
	args := append([][]byte{[]byte("RELCHECK"), a, []byte("BATCH")}, bs...)
	return args, func(dst, reply []byte) ([]byte, *apiError) {
		dst = append(dst, `"relations":`...)
		return appendIntArray(dst, reply, "RELCHECK")
	}, nil
}

// appendIntArray renders an array of integers; an element that is an
// error (a key holding another kind) fails the whole request with it.
func appendIntArray(dst, reply []byte, name string) ([]byte, *apiError) {
	elems, ok := resp.AppendElements(nil, reply)
	if !ok {
		return nil, unexpected(name, reply)
	}
	dst = append(dst, '[')
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		v, ok := resp.Int(e)
		if !ok {
			if resp.IsError(e) {
				msg := resp.ErrorText(e)
				return nil, &apiError{replyStatus(msg), msg}
			}
			return nil, unexpected(name, e)
		}
		dst = strconv.AppendInt(dst, v, 10)
	}
	return append(dst, ']'), nil
}

func unexpected(name string, reply []byte) *apiError {
	return &apiError{http.StatusBadGateway, "ERR proxy: " + name + " answered " + strconv.Quote(string(reply))}
}

// POST /v1/multi {"key":"1.following","uids":[2,3],"format":"array"|"bits"}
// → RELMULTI key [BITS] 2 3
func epMulti(r *request) ([][]byte, renderFunc, *apiError) {
	if _, aerr := query(r); aerr != nil {
		return nil, nil, aerr
	}
	var body struct {
		Key    *string           `json:"key"`
		UIDs   []json.RawMessage `json:"uids"`
		Format string            `json:"format"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		return nil, nil, aerr
	}
	switch {
	case body.Key == nil:
		return nil, nil, badRequest("missing key: the relation list to probe, such as \"42.following\"")
	case len(body.UIDs) == 0:
		return nil, nil, badRequest("missing uids: the users to look up in the list")
	case body.Format != "" && body.Format != "array" && body.Format != "bits":
		return nil, nil, badRequest("format %s: want array or bits", strconv.Quote(body.Format))
	}
	args := [][]byte{[]byte("RELMULTI"), []byte(*body.Key)}
	bits := body.Format == "bits"
	if bits {
		args = append(args, []byte("BITS"))
	}
	args = append(args, uidTexts(body.UIDs)...)
	return args, func(dst, reply []byte) ([]byte, *apiError) {
		if bits {
			dst = append(dst, `"bits":`...)
			if resp.IsNil(reply) {
				return append(dst, "null"...), nil
			}
			b, ok := resp.Bulk(reply)
			if !ok {
				return nil, unexpected("RELMULTI", reply)
			}
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, b)
			return append(dst, '"'), nil
		}
		dst = append(dst, `"members":`...)
		if resp.IsNil(reply) {
			return append(dst, "null"...), nil
		}
		return appendIntArray(dst, reply, "RELMULTI")
	}, nil
}

// defMembersLimit is how many members a page holds without limit.
const defMembersLimit = 100

// GET /v1/members/{uid}/{kind}?limit=n&before=cursor → RELMEMBERS key
// WITHTIMES [BEFORE time uid | UNTIL time-1] LIMIT n+1 (one more, to know
// whether a next page exists).
func epMembers(r *request) ([][]byte, renderFunc, *apiError) {
	q, aerr := query(r, "limit", "before")
	if aerr != nil {
		return nil, nil, aerr
	}
	key, aerr := listKey(r, r.PathValue("uid"), r.PathValue("kind"))
	if aerr != nil {
		return nil, nil, aerr
	}
	limit := int64(defMembersLimit)
	if v, aerr := one(q, "limit"); aerr != nil {
		return nil, nil, aerr
	} else if v != "" {
		n, ok := resp.ParseInt([]byte(v))
		if !ok || n < 1 {
			return nil, nil, &apiError{http.StatusBadRequest, resp.ErrLimit}
		}
		limit = min(n, 1<<31)
	}
	before, aerr := one(q, "before")
	if aerr != nil {
		return nil, nil, aerr
	}
	var cur cursor
	if before != "" {
		var ok bool
		if cur, ok = parseCursor(before); !ok {
			return nil, nil, badRequest("before %s: want the next value of a previous page, or a unix time", strconv.Quote(before))
		}
	}
	// The node pages (RELMEMBERS's cursor and window): it alone knows
	// whether a page of a truncated list reaches members it lacks (the
	// TRUNCATED error), which a cut made here from its listing would hide.
	args := [][]byte{[]byte("RELMEMBERS"), key, []byte("WITHTIMES")}
	if before != "" {
		if args, aerr = cur.appendArgs(args); aerr != nil {
			return nil, nil, aerr
		}
	}
	args = append(args, []byte("LIMIT"), strconv.AppendInt(nil, limit+1, 10))
	return args, func(dst, reply []byte) ([]byte, *apiError) {
		return renderMembers(dst, reply, int(limit))
	}, nil
}

// appendArgs appends the cursor as RELMEMBERS takes it: BEFORE time uid,
// or for a bare time UNTIL time-1 (every member followed before it). A
// cursor past every follow time (times are 32-bit) adds nothing; one before
// every time is an empty page.
func (c cursor) appendArgs(args [][]byte) ([][]byte, *apiError) {
	switch {
	case c.hasUID && c.time <= math.MaxUint32:
		return append(args, []byte("BEFORE"), strconv.AppendUint(nil, c.time, 10), strconv.AppendUint(nil, c.uid, 10)), nil
	case c.hasUID:
		return args, nil
	case c.time == 0:
		// Nothing was followed before time 0: SINCE 1 UNTIL 0 is the
		// empty window.
		return append(args, []byte("SINCE"), []byte("1"), []byte("UNTIL"), []byte("0")), nil
	case c.time-1 <= math.MaxUint32:
		return append(args, []byte("UNTIL"), strconv.AppendUint(nil, c.time-1, 10)), nil
	}
	return args, nil
}

// cursor is a position in a list's order (newest first, ties by
// ascending uid): a page starts after it.
type cursor struct {
	time   uint64
	uid    uint64
	hasUID bool // a bare unix time: every member followed before it
}

// parseCursor reads "time:uid" (a page's next) or a bare "time".
func parseCursor(s string) (cursor, bool) {
	ts, us, hasUID := strings.Cut(s, ":")
	t, ok := resp.ParseUint([]byte(ts))
	if !ok {
		return cursor{}, false
	}
	c := cursor{time: t, hasUID: hasUID}
	if hasUID {
		if c.uid, ok = resp.ParseUint([]byte(us)); !ok {
			return cursor{}, false
		}
	}
	return c, true
}

func renderMembers(dst, reply []byte, limit int) ([]byte, *apiError) {
	dst = append(dst, `"members":`...)
	if resp.IsNil(reply) {
		return append(dst, "null"...), nil
	}
	elems, ok := resp.AppendElements(nil, reply)
	if !ok || len(elems)%2 != 0 {
		return nil, unexpected("RELMEMBERS", reply)
	}
	type member struct{ uid, time uint64 }
	page := make([]member, 0, min(limit+1, len(elems)/2))
	for i := 0; i < len(elems) && len(page) <= limit; i += 2 {
		ub, ok1 := resp.Bulk(elems[i])
		tb, ok2 := resp.Bulk(elems[i+1])
		u, ok3 := resp.ParseUint(ub)
		t, ok4 := resp.ParseUint(tb)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, unexpected("RELMEMBERS", reply)
		}
		page = append(page, member{u, t})
	}
	more := len(page) > limit
	page = page[:min(len(page), limit)]
	dst = append(dst, '[')
	for i, m := range page {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(append(dst, '"'), m.uid, 10)
		dst = append(dst, '"')
	}
	dst = append(dst, `],"times":[`...)
	for i, m := range page {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, m.time, 10)
	}
	dst = append(dst, ']')
	if more {
		last := page[len(page)-1]
		dst = append(dst, `,"next":"`...)
		dst = strconv.AppendUint(dst, last.time, 10)
		dst = strconv.AppendUint(append(dst, ':'), last.uid, 10)
		dst = append(dst, '"')
	}
	return dst, nil
}

// GET /v1/members/{uid}/{kind}/count → RELCARD key
func epCount(r *request) ([][]byte, renderFunc, *apiError) {
	if _, aerr := query(r); aerr != nil {
		return nil, nil, aerr
	}
	key, aerr := listKey(r, r.PathValue("uid"), r.PathValue("kind"))
	if aerr != nil {
		return nil, nil, aerr
	}
	return [][]byte{[]byte("RELCARD"), key}, func(dst, reply []byte) ([]byte, *apiError) {
		dst = append(dst, `"count":`...)
		if resp.IsNil(reply) {
			return append(dst, "null"...), nil
		}
		n, ok := resp.Int(reply)
		if !ok {
			return nil, unexpected("RELCARD", reply)
		}
		return strconv.AppendInt(dst, n, 10), nil
	}, nil
}

// GET /v1/who?a=1&x=2&limit=n → RELWHO 1 2 [LIMIT n] (users a follows who
// follow x); GET /v1/common?a=1&b=2&limit=n → RELCOMMON 1 2 [LIMIT n]
// (users both follow). Without limit the whole answer, as over RESP.
func epPair(name, second string) endpoint {
	return func(r *request) ([][]byte, renderFunc, *apiError) {
		q, aerr := query(r, "a", second, "limit")
		if aerr != nil {
			return nil, nil, aerr
		}
		var vals [3]string
		for i, k := range []string{"a", second, "limit"} {
			if vals[i], aerr = one(q, k); aerr != nil {
				return nil, nil, aerr
			}
		}
		switch {
		case vals[0] == "":
			return nil, nil, badRequest("missing a")
		case vals[1] == "":
			return nil, nil, badRequest("missing %s", second)
		}
		args := [][]byte{[]byte(name), []byte(vals[0]), []byte(vals[1])}
		if vals[2] != "" {
			args = append(args, []byte("LIMIT"), []byte(vals[2]))
		}
		return args, func(dst, reply []byte) ([]byte, *apiError) {
			dst = append(dst, `"users":`...)
			if resp.IsNil(reply) {
				return append(dst, "null"...), nil
			}
			elems, ok := resp.AppendElements(nil, reply)
			if !ok {
				return nil, unexpected(name, reply)
			}
			dst = append(dst, '[')
			for i, e := range elems {
				b, ok := resp.Bulk(e)
				if _, isUID := resp.ParseUint(b); !ok || !isUID {
					return nil, unexpected(name, e)
				}
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(append(append(dst, '"'), b...), '"')
			}
			return append(dst, ']'), nil
		}, nil
	}
}

// POST /v1/follow {"a":1,"b":2,"time":1700000000} → FOLLOW 1 2 [time];
// POST /v1/unfollow {"a":1,"b":2} → UNFOLLOW 1 2.
func epFollow(name string) endpoint {
	return func(r *request) ([][]byte, renderFunc, *apiError) {
		if _, aerr := query(r); aerr != nil {
			return nil, nil, aerr
		}
		var body struct {
			A    json.RawMessage `json:"a"`
			B    json.RawMessage `json:"b"`
			Time json.RawMessage `json:"time"`
		}
		if aerr := decodeBody(r, &body); aerr != nil {
			return nil, nil, aerr
		}
		switch {
		case body.A == nil:
			return nil, nil, badRequest("missing a: the user who follows")
		case body.B == nil:
			return nil, nil, badRequest("missing b: the user followed")
		case body.Time != nil && name == "UNFOLLOW":
			return nil, nil, badRequest("unfollow takes no time")
		}
		args := [][]byte{[]byte(name), uidText(body.A), uidText(body.B)}
		if body.Time != nil {
			args = append(args, uidText(body.Time))
		}
		return args, func(dst, reply []byte) ([]byte, *apiError) {
			n, ok := resp.Int(reply)
			if !ok {
				return nil, unexpected(name, reply)
			}
			return strconv.AppendInt(append(dst, `"changed":`...), n, 10), nil
		}, nil
	}
}
