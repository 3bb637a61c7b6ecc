package proxyfront_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/openhash"
)

// Tests of the HTTP/JSON entry against the real binary: a proxy over
// three real nodes, each answer compared with what the same proxy answers
// over RESP for the command the request becomes.

// hclient is a raw HTTP client: it never adds Accept-Encoding itself, so
// a test sees the encoding the proxy chose.
type hclient struct {
	t    testing.TB
	base string
	auth string // Authorization header, "" for none
	c    *http.Client
}

func newHClient(t testing.TB, addr, auth string) *hclient {
	return &hclient{t: t, base: "http://" + addr, auth: auth,
		c: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
}

type hreply struct {
	status int
	header http.Header
	body   []byte // decoded
}

func (r hreply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends a request (headers as "Name: value") and returns the response
// with its body decoded from the Content-Encoding the proxy sent.
func (h *hclient) do(method, path string, body []byte, headers ...string) hreply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if h.auth != "" {
		req.Header.Set("Authorization", h.auth)
	}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		req.Header.Set(k, v)
	}
	res, err := h.c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var rd io.Reader = res.Body
	switch res.Header.Get("Content-Encoding") {
	case "gzip":
		if rd, err = gzip.NewReader(res.Body); err != nil {
			h.t.Fatal(err)
		}
	case "deflate":
		if rd, err = zlib.NewReader(res.Body); err != nil {
			h.t.Fatal(err)
		}
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		h.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if !json.Valid(b) {
		h.t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, path, res.StatusCode, b)
	}
	return hreply{res.StatusCode, res.Header, b}
}

// want checks status and, when body is not "", the exact body.
func (r hreply) want(t testing.TB, what string, status int, body string) {
	t.Helper()
	if r.status != status || (body != "" && strings.TrimSpace(string(r.body)) != body) {
		t.Fatalf("%s: got %s, want %d %s", what, r, status, body)
	}
}

func errBody(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}

// respInts renders a RESP integer or array-of-integers reply as JSON's
// array, the way the entry must.
func respInts(t testing.TB, raw []byte) string {
	t.Helper()
	var out []string
	switch v := value(t, raw).(type) {
	case int64:
		out = append(out, strconv.FormatInt(v, 10))
	case []any:
		for _, e := range v {
			out = append(out, strconv.FormatInt(e.(int64), 10))
		}
	case nil:
		return "null"
	default:
		t.Fatalf("not integers: %s", show(raw))
	}
	return "[" + strings.Join(out, ",") + "]"
}

// httpCluster is three nodes behind a proxy with its HTTP entry and a
// password, and a random graph loaded through the proxy.
type httpCluster struct {
	resp  *rconn
	http  *hclient
	addr  string
	admin string
	users []uint64
	lists map[uint64][][2]uint64 // uid → following members (uid, time), loaded
}

const httpPassword = "s3cret"

func startHTTPCluster(t *testing.T, extra string) *httpCluster {
	cl := startCluster(t, 3, "node")
	conf := onePool(cl)
	conf.Password = httpPassword
	conf.Extra = "[http]\nlisten = \"127.0.0.1:0\"\n" + extra
	px, _ := startProxy(t, conf)
	if px.HTTPAddr == "" || px.HTTPAddr == "-" {
		t.Fatalf("the proxy logged no http_addr: %q", px.HTTPAddr)
	}
	h := &httpCluster{resp: dial(t, px.Addr), addr: px.HTTPAddr, admin: px.AdminAddr, lists: map[uint64][][2]uint64{},
		http: newHClient(t, px.HTTPAddr, "Bearer "+httpPassword)}
	h.resp.must(t, "AUTH", httpPassword)
	rng := rand.New(rand.NewPCG(18, 3))
	for i := range 40 {
		h.users = append(h.users, uint64(100+i*7919))
	}
	for _, u := range h.users[:30] { // the last ten stay uncached
		args := []string{"RELLOAD", fkey(u), "TIMES"}
		var ms [][2]uint64
		for _, m := range h.users {
			if m != u && rng.IntN(3) == 0 {
				tm := uint64(1_700_000_000 + rng.IntN(5)) // few times: ties
				ms = append(ms, [2]uint64{m, tm})
				args = append(args, u64(m), u64(tm))
			}
		}
		h.resp.must(t, args...)
		h.lists[u] = ms
	}
	return h
}

func TestHTTPEntry(t *testing.T) {
	h := startHTTPCluster(t, "")
	c := h.http
	rng := rand.New(rand.NewPCG(1, 2))
	pickUsers := func(n int) []string {
		var out []string
		for range n {
			out = append(out, u64(h.users[rng.IntN(len(h.users))]))
		}
		return out
	}

	t.Run("relation", func(t *testing.T) {
		for range 60 {
			a := pickUsers(1)[0]
			bs := pickUsers(1 + rng.IntN(60))
			want := `{"relations":` + respInts(t, h.resp.must(t, append([]string{"RELCHECK", a, "BATCH"}, bs...)...)) + `}`
			if !strings.Contains(want, "null") {
				c.do("GET", "/v1/relation?a="+a+"&b="+strings.Join(bs, ","), nil).want(t, "GET relation", 200, want)
				body := fmt.Sprintf(`{"a":%s,"b":["%s"]}`, a, strings.Join(bs, `","`))
				c.do("POST", "/v1/relation", []byte(body)).want(t, "POST relation", 200, want)
			}
		}
		// b repeated as parameters is the same as one comma list.
		a, bs := pickUsers(1)[0], pickUsers(3)
		want := `{"relations":` + respInts(t, h.resp.must(t, "RELCHECK", a, "BATCH", bs[0], bs[1], bs[2])) + `}`
		c.do("GET", "/v1/relation?a="+a+"&b="+bs[0]+"&b="+bs[1]+","+bs[2], nil).want(t, "repeated b", 200, want)
	})

	t.Run("multi", func(t *testing.T) {
		for _, u := range h.users[25:35] { // cached and not
			uids := pickUsers(20)
			key := fkey(u)
			raw := h.resp.must(t, append([]string{"RELMULTI", key}, uids...)...)
			want := `{"members":` + respInts(t, raw) + `}`
			body := fmt.Sprintf(`{"key":%q,"uids":[%s]}`, key, strings.Join(uids, ","))
			c.do("POST", "/v1/multi", []byte(body)).want(t, "multi", 200, want)

			raw = h.resp.must(t, append([]string{"RELMULTI", key, "BITS"}, uids...)...)
			want = `{"bits":null}`
			if b, ok := value(t, raw).([]byte); ok {
				want = `{"bits":"` + base64.StdEncoding.EncodeToString(b) + `"}`
			}
			body = fmt.Sprintf(`{"key":%q,"uids":[%s],"format":"bits"}`, key, strings.Join(uids, ","))
			c.do("POST", "/v1/multi", []byte(body)).want(t, "multi bits", 200, want)
		}
	})

	t.Run("members", func(t *testing.T) {
		for _, u := range h.users[:32] {
			raw := h.resp.must(t, "RELMEMBERS", fkey(u), "WITHTIMES")
			all, _ := value(t, raw).([]any)
			path := "/v1/members/" + u64(u) + "/following"
			if value(t, raw) == nil {
				c.do("GET", path, nil).want(t, "uncached members", 200, `{"members":null}`)
				c.do("GET", path+"/count", nil).want(t, "uncached count", 200, `{"count":null}`)
				continue
			}
			c.do("GET", path+"/count", nil).want(t, "count", 200, fmt.Sprintf(`{"count":%d}`, len(all)/2))
			// Walk the pages, 3 members each, and compare with the whole.
			var got []string
			next, pages := "", 0
			for {
				q := path + "?limit=3"
				if next != "" {
					q += "&before=" + next
				}
				r := c.do("GET", q, nil)
				var page struct {
					Members []string `json:"members"`
					Times   []uint64 `json:"times"`
					Next    string   `json:"next"`
				}
				if r.status != 200 || json.Unmarshal(r.body, &page) != nil || len(page.Members) != len(page.Times) || len(page.Members) > 3 {
					t.Fatalf("%s: %s", q, r)
				}
				for i, m := range page.Members {
					got = append(got, m, u64(page.Times[i]))
				}
				pages++
				if next = page.Next; next == "" {
					break
				}
			}
			var want []string
			for _, e := range all {
				want = append(want, string(e.([]byte)))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("user %d: pages give\n  %v\nRELMEMBERS WITHTIMES gives\n  %v", u, got, want)
			}
			if len(want) > 6 && pages < 3 {
				t.Fatalf("user %d: %d members in %d pages of 3", u, len(want)/2, pages)
			}
		}
	})

	t.Run("who and common", func(t *testing.T) {
		respUsers := func(raw []byte) string {
			v := value(t, raw)
			if v == nil {
				return "null"
			}
			out := []string{}
			for _, e := range v.([]any) {
				out = append(out, `"`+string(e.([]byte))+`"`)
			}
			return "[" + strings.Join(out, ",") + "]"
		}
		for range 30 {
			ab := pickUsers(2)
			want := `{"users":` + respUsers(h.resp.must(t, "RELWHO", ab[0], ab[1])) + `}`
			c.do("GET", "/v1/who?a="+ab[0]+"&x="+ab[1], nil).want(t, "who", 200, want)
			want = `{"users":` + respUsers(h.resp.must(t, "RELCOMMON", ab[0], ab[1], "LIMIT", "2")) + `}`
			c.do("GET", "/v1/common?a="+ab[0]+"&b="+ab[1]+"&limit=2", nil).want(t, "common", 200, want)
		}
		c.do("GET", "/v1/who?a=1&x=2&limit=-1", nil).want(t, "who limit", 400, errBody("ERR LIMIT must be a positive integer"))
	})

	t.Run("errors", func(t *testing.T) {
		// The RESP layer's words, for the same command.
		bad := h.resp.must(t, "RELCHECK", "1", "x")
		msg := strings.TrimSuffix(string(bad[1:]), "\r\n")
		c.do("GET", "/v1/relation?a=1&b=x", nil).want(t, "bad uid", 400, errBody(msg))
		c.do("POST", "/v1/relation", []byte(`{"a":1,"b":[-2]}`)).want(t, "negative uid", 400, errBody(msg))
		c.do("POST", "/v1/multi", []byte(`{"key":"1.following","uids":[1.5]}`)).want(t, "fraction", 400, errBody(msg))
		c.do("GET", "/v1/members/1/following?limit=0", nil).want(t, "limit 0", 400, errBody("ERR LIMIT must be a positive integer"))
		c.do("GET", "/v1/members/x/following", nil).want(t, "bad path uid", 400, errBody(msg))
		c.do("GET", "/v1/members/1/friends", nil).want(t, "bad kind", 400, "")
		c.do("GET", "/v1/relation?a=1&b=2&befor=3", nil).want(t, "unknown parameter", 400, errBody(`ERR unknown query parameter "befor"`))
		c.do("GET", "/v1/relation?a=1", nil).want(t, "no b", 400, "")
		c.do("POST", "/v1/relation", []byte(`{"a":1,"b":[2],"c":3}`)).want(t, "unknown field", 400, "")
		c.do("POST", "/v1/relation", []byte(`{"a":1,"b":[2]} {}`)).want(t, "trailing data", 400, "")
		c.do("GET", "/v1/nothing", nil).want(t, "404", 404, "")
		r := c.do("DELETE", "/v1/relation", nil)
		r.want(t, "405", 405, "")
		if r.header.Get("Allow") != "GET, POST" {
			t.Fatalf("405 Allow: %q", r.header.Get("Allow"))
		}
		c.do("GET", "/v1/relation?a=1&b=2&timeout=soon", nil).want(t, "bad timeout", 400, "")
		// FOLLOW on pure-cache nodes: refused by this deployment, 501, with
		// the words RESP gets.
		for _, ab := range [][2]string{{"1", "2"}, {u64(h.users[0]), u64(h.users[1])}, {u64(h.users[2]), u64(h.users[5])}} {
			raw := h.resp.must(t, "FOLLOW", ab[0], ab[1])
			if raw[0] != '-' {
				t.Fatalf("FOLLOW on pure-cache nodes: %s", show(raw))
			}
			c.do("POST", "/v1/follow", []byte(`{"a":`+ab[0]+`,"b":`+ab[1]+`}`)).
				want(t, "follow without a source", 501, errBody(strings.TrimSuffix(string(raw[1:]), "\r\n")))
		}
	})

	t.Run("auth", func(t *testing.T) {
		none := newHClient(t, h.addr, "")
		r := none.do("GET", "/v1/relation?a=1&b=2", nil)
		r.want(t, "no credentials", 401, errBody("NOAUTH Authentication required."))
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("401 without WWW-Authenticate: %v", r.header)
		}
		wrong := errBody("WRONGPASS invalid username-password pair or user is disabled.")
		newHClient(t, h.addr, "Bearer nope").do("GET", "/v1/relation?a=1&b=2", nil).want(t, "wrong token", 401, wrong)
		basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
		newHClient(t, h.addr, basic("default", "nope")).do("GET", "/v1/relation?a=1&b=2", nil).want(t, "wrong password", 401, wrong)
		newHClient(t, h.addr, basic("alice", httpPassword)).do("GET", "/v1/relation?a=1&b=2", nil).want(t, "other user", 401, wrong)
		newHClient(t, h.addr, basic("default", httpPassword)).do("GET", "/v1/relation?a=1&b=2", nil).want(t, "basic", 200, `{"relations":[-1]}`)
		newHClient(t, h.addr, basic("", httpPassword)).do("GET", "/v1/relation?a=1&b=2", nil).want(t, "basic, no user", 200, `{"relations":[-1]}`)
		// The document is public: it holds nothing but the API's shape.
		none.do("GET", "/v1/openapi.json", nil).want(t, "openapi without auth", 200, "")
	})

	t.Run("compression", func(t *testing.T) {
		a, bs := u64(h.users[0]), pickUsers(300)
		want := `{"relations":` + respInts(t, h.resp.must(t, append([]string{"RELCHECK", a, "BATCH"}, bs...)...)) + `}`
		for _, enc := range []string{"gzip", "deflate"} {
			r := c.do("GET", "/v1/relation?a="+a+"&b="+strings.Join(bs, ","), nil, "Accept-Encoding: "+enc)
			r.want(t, enc+" response", 200, want)
			if r.header.Get("Content-Encoding") != enc || !slices.Contains(r.header.Values("Vary"), "Accept-Encoding") {
				t.Fatalf("%s response headers: %v", enc, r.header)
			}
		}
		r := c.do("GET", "/v1/relation?a="+a+"&b="+strings.Join(bs, ","), nil)
		if r.header.Get("Content-Encoding") != "" {
			t.Fatalf("compressed without Accept-Encoding: %v", r.header)
		}
		small := c.do("GET", "/v1/relation?a=1&b=2", nil, "Accept-Encoding: gzip")
		if small.header.Get("Content-Encoding") != "" {
			t.Fatalf("a tiny body compressed: %v", small.header)
		}
		// Request bodies: gzip, zlib deflate, and raw deflate.
		body := []byte(fmt.Sprintf(`{"a":%s,"b":["%s"]}`, a, strings.Join(bs, `","`)))
		for enc, compress := range map[string]func(io.Writer) io.WriteCloser{
			"gzip":    func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
			"deflate": func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) },
			"raw":     func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, 5); return fw },
		} {
			var buf bytes.Buffer
			zw := compress(&buf)
			zw.Write(body)
			zw.Close()
			ce := enc
			if enc == "raw" {
				ce = "deflate"
			}
			c.do("POST", "/v1/relation", buf.Bytes(), "Content-Encoding: "+ce).want(t, enc+" request", 200, want)
		}
		c.do("POST", "/v1/relation", body, "Content-Encoding: br").want(t, "br request", 415, "")
		c.do("POST", "/v1/relation", []byte("not gzip"), "Content-Encoding: gzip").want(t, "corrupt gzip", 400, "")
	})

	t.Run("limits", func(t *testing.T) {
		// A zip bomb: 64 MiB of zeros in a body of about 64 KiB.
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write([]byte(`{"a":1,"b":[`))
		zeros := make([]byte, 1<<20)
		for range 64 {
			zw.Write(zeros)
		}
		zw.Close()
		if buf.Len() > 1<<20 {
			t.Fatalf("the bomb is %d bytes, more than max_body_bytes", buf.Len())
		}
		c.do("POST", "/v1/relation", buf.Bytes(), "Content-Encoding: gzip").
			want(t, "zip bomb", 413, errBody("ERR request body larger than http.max_decoded_body_bytes (8388608 bytes)"))
		// More uids than RESP's limit on one command's arguments (1<<20).
		buf.Reset()
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write([]byte(`{"a":1,"b":[1`))
		zw.Write(bytes.Repeat([]byte(",1"), 1<<20))
		zw.Write([]byte(`]}`))
		zw.Close()
		c.do("POST", "/v1/relation", buf.Bytes(), "Content-Encoding: gzip").
			want(t, "2^20+1 uids", 400, errBody("ERR Protocol error: invalid multibulk length"))
		big := bytes.Repeat([]byte(" "), 1<<20+1)
		c.do("POST", "/v1/relation", big).want(t, "big body", 413, errBody("ERR request body larger than http.max_body_bytes (1048576 bytes)"))
		// Headers past max_header_bytes (16 KiB): net/http's 431.
		req, _ := http.NewRequest("GET", h.http.base+"/v1/relation?a=1&b=2", nil)
		req.Header.Set("X-Big", strings.Repeat("x", 32<<10))
		res, err := h.http.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("32 KiB of headers: %d", res.StatusCode)
		}
	})

	t.Run("info", func(t *testing.T) {
		if info := h.resp.must(t, "INFO", "server"); !bytes.Contains(info, []byte("http_addr:"+h.addr+"\r\n")) {
			t.Fatalf("INFO server has no http_addr:%s\n%s", h.addr, info)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		res, err := http.Get("http://" + h.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{
			`relcache_proxy_http_requests_total{code="200",route="GET /v1/relation"}`,
			`relcache_proxy_http_requests_total{code="401",route="GET /v1/relation"}`,
			`relcache_proxy_http_requests_total{code="404",route="other"}`,
			`relcache_proxy_requests_total{command="relcheck"}`, // the command table counted them
		} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("/metrics has no %s", want)
			}
		}
	})

	t.Run("openapi", func(t *testing.T) {
		r := c.do("GET", "/v1/openapi.json", nil)
		if r.status != 200 {
			t.Fatalf("openapi: %s", r)
		}
		docs, err := os.ReadFile("../docs/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.body, docs) {
			t.Fatal("/v1/openapi.json differs from docs/openapi.json")
		}
	})
}

// TestHTTPFollow: FOLLOW and UNFOLLOW over HTTP write through to the
// source, and reads over HTTP see them (one node with SQLite).
func TestHTTPFollow(t *testing.T) {
	cl := startCluster(t, 1, "node", "--source", "sqlite")
	conf := onePool(cl)
	conf.Extra = "[http]\nlisten = \"127.0.0.1:0\"\n"
	px, _ := startProxy(t, conf)
	c := newHClient(t, px.HTTPAddr, "")
	c.do("POST", "/v1/follow", []byte(`{"a":1,"b":2,"time":1700000000}`)).want(t, "follow", 200, `{"changed":1}`)
	c.do("POST", "/v1/follow", []byte(`{"a":"1","b":"2","time":"1700000000"}`)).want(t, "follow again", 200, `{"changed":0}`)
	c.do("POST", "/v1/follow", []byte(`{"a":1,"b":3}`)).want(t, "follow 3", 200, `{"changed":1}`)
	c.do("GET", "/v1/relation?a=1&b=2,3,4", nil).want(t, "relation", 200, `{"relations":[1,1,0]}`)
	c.do("GET", "/v1/relation?a=2&b=1", nil).want(t, "reverse", 200, `{"relations":[2]}`)
	c.do("GET", "/v1/members/2/follower", nil).want(t, "fans", 200, `{"members":["1"],"times":[1700000000]}`)
	c.do("POST", "/v1/unfollow", []byte(`{"a":1,"b":2}`)).want(t, "unfollow", 200, `{"changed":1}`)
	c.do("GET", "/v1/members/1/following/count", nil).want(t, "count", 200, `{"count":1}`)
	c.do("POST", "/v1/follow", []byte(`{"a":1,"b":1}`)).want(t, "self", 400, errBody("ERR a user cannot follow itself"))
	c.do("POST", "/v1/follow", []byte(`{"a":1,"b":2,"time":4294967296}`)).want(t, "time", 400, errBody("ERR relation times must be unsigned 32-bit integers"))
	c.do("POST", "/v1/unfollow", []byte(`{"a":1,"b":2,"time":1}`)).want(t, "unfollow time", 400, "")
}

// TestHTTPDeadlineAndDownNode: a request whose deadline passes while a
// node sends nothing gets 504 with the RESP-style error; a request to a
// node that is down gets 503 with the proxy's RESP error.
func TestHTTPDeadlineAndDownNode(t *testing.T) {
	// A "node" that accepts and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			nc, err := mute.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			go io.Copy(io.Discard, nc)
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	conf := proxyConfig{Extra: "[http]\nlisten = \"127.0.0.1:0\"\n", Pools: []poolConfig{{Name: "dc1", Role: "primary",
		Servers: []string{mute.Addr().String() + ":1 mute", closedAddr + ":1 gone"}, NoAutoEject: true}}}
	px, _ := startProxy(t, conf)
	c := newHClient(t, px.HTTPAddr, "")
	pl := newPlacer(t, conf, conf.Pools[0].Servers)
	onMute, onGone := "", ""
	for u := uint64(1); onMute == "" || onGone == ""; u++ {
		if pl.node(fkey(u)) == 0 {
			onMute = u64(u)
		} else {
			onGone = u64(u)
		}
	}
	c.do("GET", "/v1/members/"+onMute+"/following/count?timeout=50ms", nil).
		want(t, "mute node", 504, errBody("ERR proxy: the request's deadline passed before the nodes answered"))
	c.do("GET", "/v1/members/"+onMute+"/following/count", nil, "X-Relcache-Timeout: 50ms").
		want(t, "mute node, header", 504, "")
	r := c.do("GET", "/v1/members/"+onGone+"/following/count", nil)
	if r.status != 503 || !strings.Contains(string(r.body), "ERR proxy: backend gone") {
		t.Fatalf("down node: %s", r)
	}
	// The RESP error for the same command has the same words.
	want := dial(t, px.Addr).must(t, "RELCARD", fkey(mustUint(t, onGone)))
	if !strings.Contains(string(want), "ERR proxy: backend gone") {
		t.Fatalf("RESP: %s", show(want))
	}
}

func mustUint(t testing.TB, s string) uint64 {
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHTTPSlowClient: a client that trickles its request (headers or
// body) is cut off at read_timeout, and meanwhile others are served; it
// holds no connection past the timeout.
func TestHTTPSlowClient(t *testing.T) {
	cl := startCluster(t, 1, "node")
	conf := onePool(cl)
	conf.Extra = "[http]\nlisten = \"127.0.0.1:0\"\nread_timeout = \"1s\"\n"
	px, _ := startProxy(t, conf)
	for _, tc := range []struct{ name, first string }{
		{"headers", "GET /v1/relation?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		{"body", "POST /v1/relation HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":1,"},
	} {
		nc, err := net.Dial("tcp", px.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte(tc.first))
		// Keep trickling a byte now and then, as slowloris does, until the
		// proxy closes the connection.
		stop := make(chan struct{})
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := nc.Write([]byte("a")); err != nil {
						return
					}
				}
			}
		}()
		// Others are served meanwhile.
		newHClient(t, px.HTTPAddr, "").do("GET", "/v1/relation?a=1&b=2", nil).want(t, "while a slow client waits", 200, `{"relations":[-1]}`)
		// The proxy ends the slow request: the read returns (EOF, or a
		// 408/400 response and then EOF) instead of blocking for good.
		nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		got, err := io.ReadAll(bufio.NewReader(nc))
		close(stop)
		nc.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: the proxy kept a slowloris connection open for a minute", tc.name)
		}
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 4")) {
			t.Fatalf("%s: the slow client got %q", tc.name, got)
		}
		if tc.name == "body" && !bytes.HasPrefix(got, []byte("HTTP/1.1 408 ")) {
			t.Fatalf("a body not received within read_timeout: %q, want 408", got)
		}
	}
}

// TestHTTPCurl: curl --compressed, as a service would call the entry.
func TestHTTPCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed (Debian package curl)")
	}
	h := startHTTPCluster(t, "")
	a := u64(h.users[0])
	var bs []string
	for _, u := range h.users {
		bs = append(bs, u64(u))
	}
	for range 4 {
		bs = append(bs, bs...)
	}
	want := `{"relations":` + respInts(t, h.resp.must(t, append([]string{"RELCHECK", a, "BATCH"}, bs...)...)) + `}`
	url := "http://" + h.addr + "/v1/relation?a=" + a + "&b=" + strings.Join(bs, ",")
	out, err := exec.Command(curl, "-sS", "--compressed", "-u", "default:"+httpPassword,
		"-D", "-", url).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	if !strings.Contains(strings.ToLower(head), "content-encoding: gzip") {
		t.Fatalf("curl --compressed got no gzip:\n%s", head)
	}
	if strings.TrimSpace(body) != want {
		t.Fatalf("curl: %.200s, want %.200s", body, want)
	}
	// A gzipped request body, as curl sends a file.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	fmt.Fprintf(zw, `{"a":%s,"b":[%s]}`, a, strings.Join(bs, ","))
	zw.Close()
	cmd := exec.Command(curl, "-sS", "--compressed", "-H", "Authorization: Bearer "+httpPassword,
		"-H", "Content-Encoding: gzip", "-H", "Content-Type: application/json", "--data-binary", "@-",
		"http://"+h.addr+"/v1/relation")
	cmd.Stdin = &buf
	if out, err = cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("curl POST gzip: %v\n%.300s", err, out)
	}
}

// TestHTTPMaxClients: HTTP connections count against max_clients with the
// RESP ones; one past it gets 503 in JSON and is closed.
func TestHTTPMaxClients(t *testing.T) {
	cl := startCluster(t, 1, "node")
	conf := onePool(cl)
	conf.Extra = "max_clients = 2\n[http]\nlisten = \"127.0.0.1:0\"\n"
	px, _ := startProxy(t, conf)
	r1 := dial(t, px.Addr)
	r1.must(t, "PING")
	hc := newHClient(t, px.HTTPAddr, "") // keeps its connection alive: the second client
	hc.do("GET", "/v1/relation?a=1&b=2", nil).want(t, "second client", 200, `{"relations":[-1]}`)
	nc, err := net.Dial("tcp", px.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	got, _ := io.ReadAll(nc)
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 503 ")) || !bytes.HasSuffix(got, []byte(`{"error":"ERR max number of clients reached"}`)) {
		t.Fatalf("third client got %q", got)
	}
	// The refused connection is not counted once closed: after the RESP
	// client leaves, a new HTTP connection is served.
	r1.Close()
	for i := 0; ; i++ {
		res, err := http.Get("http://" + px.HTTPAddr + "/v1/relation?a=1&b=2")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if i == 1000 {
			t.Fatalf("no HTTP client served after the RESP one left: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHTTPFailoverAndEjection: the HTTP entry takes the RESP path's
// fail-over and ejection. Reads go to read_pool dc2 first, whose node is
// down: they are answered from dc1. A write-pool node that is down is
// ejected after server_failure_limit failures, and the next request hears
// so, with 503.
func TestHTTPFailoverAndEjection(t *testing.T) {
	cl := startCluster(t, 1, "node")
	gone := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	conf := onePool(cl)
	conf.ReadPool = "dc2"
	conf.Extra = "[http]\nlisten = \"127.0.0.1:0\"\n"
	conf.Pools = append(conf.Pools, poolConfig{Name: "dc2", Role: "replica", Servers: []string{gone() + ":1 node1"}})
	px, _ := startProxy(t, conf)
	dial(t, px.Addr).must(t, "RELLOAD", "7.following", "8", "9")
	c := newHClient(t, px.HTTPAddr, "")
	c.do("GET", "/v1/members/7/following/count", nil).want(t, "read failed over to dc1", 200, `{"count":2}`)
	c.do("POST", "/v1/multi", []byte(`{"key":"7.following","uids":[8,10]}`)).want(t, "multi failed over", 200, `{"members":[1,0]}`)

	down := proxyConfig{Extra: "[http]\nlisten = \"127.0.0.1:0\"\n", Pools: []poolConfig{{Name: "dc1", Role: "primary",
		Servers: []string{gone() + ":1 node1"}, ServerFailureLimit: 1, ServerRetryTimeout: "1h"}}}
	px2, _ := startProxy(t, down)
	c2 := newHClient(t, px2.HTTPAddr, "")
	r := c2.do("GET", "/v1/members/7/following/count", nil)
	if r.status != 503 || !strings.Contains(string(r.body), "connect failed") {
		t.Fatalf("first request to a down node: %s", r)
	}
	r = c2.do("GET", "/v1/members/7/following/count", nil)
	if r.status != 503 || !strings.Contains(string(r.body), "is ejected after 1 failures") {
		t.Fatalf("request to an ejected node: %s", r)
	}
}

// TestHTTPSlowReader: a client that stops reading a big response holds
// its connection only until write_timeout: the proxy cuts the response
// off and closes it.
func TestHTTPSlowReader(t *testing.T) {
	const members = 800_000 // about 9.6 MB of JSON, more than the socket buffers hold
	cl := startCluster(t, 1, "node")
	conf := onePool(cl)
	conf.Extra = "[http]\nlisten = \"127.0.0.1:0\"\nrequest_timeout = \"3s\"\nwrite_timeout = \"3s\"\nidle_timeout = \"2s\"\n"
	px, _ := startProxy(t, conf)
	// The list is built here and stored with one SET on its node: loading
	// 800,000 uids through RELLOAD takes minutes under -race.
	uids := make([]uint64, members)
	for i := range uids {
		uids[i] = 1_000_000 + uint64(i)
	}
	set, err := openhash.Build(nil, uids, nil, openhash.Options{Seed: 18})
	if err != nil {
		t.Fatal(err)
	}
	if got := dial(t, cl.procs[0].Addr).must(t, "SET", "1.following", string(set)); string(got) != "+OK\r\n" {
		t.Fatalf("SET of the list: %s", show(got))
	}
	nc, err := net.Dial("tcp", px.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The proxy's writes block once its send buffer (tcp_wmem's most, 4
	// MiB by default) and this side's receive buffer, which does not grow
	// while nothing is read, are full. (A tiny SO_RCVBUF would not do:
	// the window updates of a buffer smaller than one loopback segment
	// crawl, and reading the rest would take minutes.)
	fmt.Fprintf(nc, "GET /v1/members/1/following?limit=%d HTTP/1.1\r\nHost: x\r\n\r\n", members)
	// Read nothing for longer than write_timeout. Whatever the machine's
	// speed, by then the proxy's write deadline has passed. (Where the
	// node's answer takes longer than request_timeout, as under -race,
	// the client gets a 504, or nothing when the write deadline passed
	// with it; the connection is closed then, at idle_timeout at the
	// latest: it is held no longer either way.)
	time.Sleep(5 * time.Second)
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	got, err := io.ReadAll(nc)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the proxy kept the connection of a client that stopped reading; got %d bytes: %.300q", len(got), got)
	}
	head, body, _ := bytes.Cut(got, []byte("\r\n\r\n"))
	var length int
	for _, line := range strings.Split(string(head), "\r\n") {
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			length, _ = strconv.Atoi(v)
		}
	}
	switch {
	case bytes.HasPrefix(got, []byte("HTTP/1.1 504 ")):
		t.Logf("the nodes' answer took longer than request_timeout: a 504, then closed at idle_timeout")
	case length > 0 && len(body) >= length:
		t.Fatalf("the whole %d-byte response arrived: write_timeout did not cut it", length)
	default:
		t.Logf("got %d bytes of a %d-byte body before the proxy closed the connection", len(body), length)
	}
	// Others are served.
	newHClient(t, px.HTTPAddr, "").do("GET", "/v1/members/1/following/count", nil).want(t, "count", 200, fmt.Sprintf(`{"count":%d}`, members))
}
