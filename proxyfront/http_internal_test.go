package proxyfront

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/resp"
)

// TestHTTPRoutesMatchOpenAPI: the document served is docs/openapi.json,
// and it lists exactly the entry's routes, each method of each path.
func TestHTTPRoutesMatchOpenAPI(t *testing.T) {
	docs, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(docs, openAPIDoc) {
		t.Fatal("proxyfront/openapi.json (served at /v1/openapi.json) differs from docs/openapi.json: copy one onto the other")
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	var inDoc, inMux []string
	for path, ops := range doc.Paths {
		for m := range ops {
			inDoc = append(inDoc, strings.ToUpper(m)+" "+path)
		}
	}
	for _, rt := range httpRoutes() {
		inMux = append(inMux, rt.method+" "+rt.pattern)
	}
	slices.Sort(inDoc)
	slices.Sort(inMux)
	if !slices.Equal(inDoc, inMux) {
		t.Fatalf("routes in openapi.json:\n  %s\nroutes in the mux:\n  %s", strings.Join(inDoc, "\n  "), strings.Join(inMux, "\n  "))
	}
}

func TestPickEncoding(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"gzip"}, "gzip"},
		{[]string{"deflate, gzip"}, "gzip"},
		{[]string{"deflate"}, "deflate"},
		{[]string{"gzip;q=0, deflate"}, "deflate"},
		{[]string{"gzip;q=0.5, deflate;q=0.8"}, "deflate"},
		{[]string{"*"}, "gzip"},
		{[]string{"*;q=0"}, ""},
		{[]string{"gzip;q=0", "*"}, "deflate"},
		{[]string{"br, zstd"}, ""},
		{[]string{"identity"}, ""},
		{[]string{"GZIP"}, "gzip"},
		{[]string{"x-gzip"}, "gzip"},
		{[]string{"gzip;q=nope"}, ""},
		{[]string{"deflate, gzip, br, zstd"}, "gzip"}, // curl --compressed
	} {
		if got := pickEncoding(tc.in); got != tc.want {
			t.Errorf("pickEncoding(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReplyStatus(t *testing.T) {
	for msg, want := range map[string]int{
		resp.ErrRelMember: 400,
		"ERR wrong number of arguments for 'relcheck' command":                               400,
		"NOAUTH Authentication required.":                                                    401,
		"WRONGPASS invalid username-password pair or user is disabled.":                      401,
		"NOPERM User relsvc has no permissions to run the 'follow' command":                  403,
		"WRONGTYPE Operation against a key holding the wrong kind of value":                  409,
		"ERR proxy: backend n1 (127.0.0.1:1) connect failed: connection refused":             503,
		"ERR proxy: backend n1 (127.0.0.1:1) is ejected after 2 failures; next probe in 29s": 503,
		"ERR proxy: backend n1 (127.0.0.1:1) timed out after 1s":                             504,
		msgDeadline:                    504,
		"LOADFAIL shard3 mysql down":   503,
		"OOM command not allowed":      503,
		"ERR proxy: RELCHECK answered": 400,
		"ERR proxy: backend node1 answered RELFOLLOWS with \"+OK\"":                                                     502,
		"ERR proxy: backend n1 (127.0.0.1:1) answered DISCARD with \"x\"":                                               502,
		"ERR proxy: a node listed \"x\" as a member":                                                                    502,
		"ERR proxy: follow of users on different nodes needs both nodes to write one source of record, but node n2 ...": 501,
		"ERR follow needs a source of record to write to (serve with --source sqlite or mysql)":                         501,
		"ERR stored relation set is corrupt: x":                                                                         500,
		"TRUNCATED the relation set holds only the newest part of the list, and this page reaches ...":                  409,
		"WEIRD thing": 500,
	} {
		if got := replyStatus(msg); got != want {
			t.Errorf("replyStatus(%q) = %d, want %d", msg, got, want)
		}
	}
}

func TestCursor(t *testing.T) {
	c, ok := parseCursor("100:7")
	if !ok || !c.hasUID || c.time != 100 || c.uid != 7 {
		t.Fatalf("parseCursor(100:7) = %+v, %v", c, ok)
	}
	// The node pages by it: BEFORE time uid, or a bare time as UNTIL
	// time-1; past every 32-bit time nothing, before time 0 the empty
	// window.
	show := func(c cursor) string {
		args, _ := c.appendArgs(nil)
		return string(bytes.Join(args, []byte(" ")))
	}
	for in, want := range map[string]string{
		"100:7": "BEFORE 100 7", "100": "UNTIL 99", "0": "SINCE 1 UNTIL 0",
		"4294967296:1": "", "4294967297": "", "4294967296": "UNTIL 4294967295",
	} {
		c, _ := parseCursor(in)
		if got := show(c); got != want {
			t.Errorf("cursor %s: %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", ":", "x", "1:", ":1", "-1", "1:2:3", "1.5"} {
		if _, ok := parseCursor(bad); ok {
			t.Errorf("parseCursor(%q) accepted", bad)
		}
	}
}

// testConfig is a validated config for the parsers (no node is dialled).
func testConfig(t testing.TB) *Config {
	cfg, err := ParseConfig([]byte("admin = \"-\"\n[[pool]]\nname = \"dc1\"\nrole = \"primary\"\nservers = [\"127.0.0.1:1:1 n1\"]\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// FuzzHTTPRequest drives every endpoint's parsing with a fuzzed path
// values, query string and body, then its renderer with a fuzzed reply:
// no panic, a command only with a renderer, and every rendered object is
// valid JSON.
func FuzzHTTPRequest(f *testing.F) {
	f.Add(uint8(0), "a=1&b=2,3,4", []byte(nil), "1", "following", []byte("*3\r\n:3\r\n:1\r\n:0\r\n"))
	f.Add(uint8(1), "", []byte(`{"a":1,"b":["2",3]}`), "1", "following", []byte(":3\r\n"))
	f.Add(uint8(2), "", []byte(`{"key":"1.following","uids":[2,3],"format":"bits"}`), "", "", []byte("$1\r\n\xc0\r\n"))
	f.Add(uint8(3), "limit=2&before=100:7", []byte(nil), "42", "follower", []byte("*4\r\n$1\r\n8\r\n$3\r\n100\r\n$1\r\n9\r\n$2\r\n99\r\n"))
	f.Add(uint8(4), "", []byte(nil), "42", "following", []byte("$-1\r\n"))
	f.Add(uint8(5), "", []byte(`{"a":"1","b":2,"time":1700000000}`), "", "", []byte(":1\r\n"))
	f.Add(uint8(6), "timeout=1s", []byte(`{"a":1,"b":2}`), "", "", []byte("*-1\r\n"))
	cfg := testConfig(f)
	routes := slices.DeleteFunc(httpRoutes(), func(r httpRoute) bool { return r.ep == nil })
	f.Fuzz(func(t *testing.T, which uint8, rawQuery string, body []byte, uid, kind string, reply []byte) {
		rt := routes[int(which)%len(routes)]
		hr := httptest.NewRequest(rt.method, "/", nil)
		hr.URL.RawQuery = rawQuery
		hr.SetPathValue("uid", uid)
		hr.SetPathValue("kind", kind)
		if _, aerr := requestTimeout(hr, defHTTPRequestTimeout); aerr != nil && aerr.status != http.StatusBadRequest {
			t.Fatalf("timeout refused with %d", aerr.status)
		}
		args, render, aerr := rt.ep(&request{Request: hr, body: body, cfg: cfg})
		if aerr != nil {
			if aerr.status < 400 || !strings.HasPrefix(aerr.msg, "ERR ") {
				t.Fatalf("refusal %d %q", aerr.status, aerr.msg)
			}
			rec := httptest.NewRecorder()
			writeError(rec, hr, aerr.status, aerr.msg)
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("error body is not JSON: %q", rec.Body.Bytes())
			}
			return
		}
		if len(args) < 2 || render == nil {
			t.Fatalf("command %q without renderer or arguments", args)
		}
		if n, err := resp.ReplyEnd(reply); err != nil || n != len(reply) || resp.IsError(reply) {
			return // not one complete reply (the backend reader hands over only those), or an error (answered before render)
		}
		out, aerr := render([]byte("{"), reply)
		if aerr != nil {
			return
		}
		out = append(out, '}')
		if !json.Valid(out) {
			t.Fatalf("rendered invalid JSON %q from reply %q", out, reply)
		}
	})
}

// FuzzHTTPBody feeds readBody any bytes under any Content-Encoding, and
// pickEncoding any Accept-Encoding: no panic, the decoded body never over
// its limit, a refusal always a 4xx with an ERR message, and only gzip,
// deflate or nothing chosen.
func FuzzHTTPBody(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("a"), 5000))
	zw.Close()
	var zl bytes.Buffer
	zlw := zlib.NewWriter(&zl)
	zlw.Write([]byte(`{"a":1,"b":[2]}`))
	zlw.Close()
	f.Add("gzip", gz.Bytes(), "gzip, deflate")
	f.Add("deflate", zl.Bytes(), "deflate;q=0.5, gzip;q=0")
	f.Add("deflate", []byte{0x4b, 0x04, 0x00}, "*")
	f.Add("", []byte(`{"a":1}`), "identity")
	f.Add("br", []byte("x"), "br;q=1, *;q=0")
	hc := &HTTPConfig{MaxBodyBytes: 2048, MaxDecodedBodyBytes: 4096}
	f.Fuzz(func(t *testing.T, enc string, body []byte, accept string) {
		if got := pickEncoding([]string{accept}); got != "" && got != "gzip" && got != "deflate" {
			t.Fatalf("pickEncoding(%q) = %q", accept, got)
		}
		r := httptest.NewRequest("POST", "/v1/relation", bytes.NewReader(body))
		r.Header.Set("Content-Encoding", enc)
		out, aerr := readBody(httptest.NewRecorder(), r, hc)
		if aerr != nil {
			if aerr.status < 400 || aerr.status > 499 || !strings.HasPrefix(aerr.msg, "ERR ") {
				t.Fatalf("refusal %d %q", aerr.status, aerr.msg)
			}
			return
		}
		if int64(len(out)) > hc.MaxDecodedBodyBytes || int64(len(body)) > hc.MaxBodyBytes {
			t.Fatalf("accepted %d bytes decoded from %d", len(out), len(body))
		}
	})
}

// denyWrites is an Authenticator with users and a permission, as the
// users-and-permissions package will plug in: "reader" may run reads only.
type denyWrites struct{}

func (denyWrites) Authenticate(user, pass string) (Identity, error) {
	if user == "reader" && pass == "r" {
		return Identity{User: user}, nil
	}
	return Identity{}, &AuthError{Status: http.StatusUnauthorized, Msg: msgWrongPass}
}

func (denyWrites) Allowed(id Identity, args [][]byte) error {
	if name := strings.ToLower(string(args[0])); name == "follow" || name == "unfollow" {
		return &AuthError{Status: http.StatusForbidden,
			Msg: "NOPERM User " + id.User + " has no permissions to run the '" + name + "' command"}
	}
	return nil
}

// TestHTTPAuthenticatorPlugs: an Authenticator set with SetAuthenticator
// decides who a request is and what it may run, before anything is sent
// (the pool's only node is never reachable: an allowed read gets 503).
func TestHTTPAuthenticatorPlugs(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	p, err := New(cfg, "test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	p.SetAuthenticator(denyWrites{})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	base := "http://" + p.HTTPAddr()
	do := func(user, pass, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	for _, tc := range []struct {
		user, method, path, body string
		status                   int
		msg                      string
	}{
		{"reader", "POST", "/v1/follow", `{"a":1,"b":2}`, 403, "NOPERM User reader has no permissions to run the 'follow' command"},
		{"reader", "POST", "/v1/unfollow", `{"a":1,"b":2}`, 403, "NOPERM User reader has no permissions to run the 'unfollow' command"},
		{"someone", "GET", "/v1/relation?a=1&b=2", "", 401, msgWrongPass},
		{"reader", "GET", "/v1/members/1/following/count", "", 503, "ERR proxy: backend n1 (127.0.0.1:1) connect failed"},
	} {
		pass := "r"
		if tc.user != "reader" {
			pass = "x"
		}
		status, body := do(tc.user, pass, tc.method, tc.path, tc.body)
		if status != tc.status || !strings.Contains(body, tc.msg) {
			t.Errorf("%s %s as %s: %d %s, want %d with %q", tc.method, tc.path, tc.user, status, body, tc.status, tc.msg)
		}
	}
}
