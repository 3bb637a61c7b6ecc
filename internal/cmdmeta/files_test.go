package cmdmeta

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

var importRedis = flag.String("import-redis-commands", "",
	"write internal/cmdmeta/commands/ files for these commands (comma-separated, subcommands as client|tracking) from a redis-server's COMMAND DOCS and COMMAND INFO")

// TestCommandFilesFormatted keeps every file of commands/ in one layout
// (formatMeta's), so a file written by hand and one imported from Redis
// read alike and diffs stay small.
func TestCommandFilesFormatted(t *testing.T) {
	files, err := fs.Glob(commandFiles, "commands/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, _ := commandFiles.ReadFile(f)
		want, err := formatMeta(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s is not laid out as formatMeta lays it out; rewrite it with:\n%s", f, want)
		}
	}
}

// TestImportRedisCommandMeta is the tool that writes a command's file
// from what redis-server says about it, for a command relcache adds that
// Redis has:
//
//	go test ./internal/cmdmeta -run TestImportRedisCommandMeta -import-redis-commands 'client|tracking,subscribe'
//
// The file is Redis's description; edit it where relcache differs on
// purpose, and TestCommandMetadataAgainstRedis (server/commandmeta_test.go)
// will hold the rest to Redis.
func TestImportRedisCommandMeta(t *testing.T) {
	if *importRedis == "" {
		t.Skip("no -import-redis-commands")
	}
	conn, err := net.Dial("tcp", relcachetest.StartRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	vr := resp.NewValueReader(conn)
	do := func(args ...string) resp.Value {
		argv := make([][]byte, len(args))
		for i, a := range args {
			argv[i] = []byte(a)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(resp.AppendCommand(nil, argv...)); err != nil {
			t.Fatal(err)
		}
		v, err := vr.Next()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	do("HELLO", "3")
	for _, name := range strings.Split(*importRedis, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		info, docs := do("COMMAND", "INFO", name).Elems[0], do("COMMAND", "DOCS", name)
		if info.Null || len(docs.Elems) != 2 {
			t.Fatalf("redis-server does not know %q", name)
		}
		b, err := metaFromRedis(name, info, docs.Elems[1])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join("commands", strings.ReplaceAll(name, "|", "-")+".json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}

// metaFromRedis turns COMMAND INFO's entry and COMMAND DOCS's map for one
// command into its file.
func metaFromRedis(name string, info, docs resp.Value) ([]byte, error) {
	var m Command
	b, err := json.Marshal(plain(docs))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m.Name, m.Arity, m.Flags = name, int(info.Elems[1].Int), []string{}
	for _, f := range info.Elems[2].Elems {
		if s := string(f.Str); s != "movablekeys" { // derived from the key specs
			m.Flags = append(m.Flags, s)
		}
	}
	implied := (&Command{Flags: m.Flags}).ACLCategoriesForInfo()
	for _, c := range info.Elems[6].Elems {
		if !slices.Contains(implied, string(c.Str)) {
			m.ACLCategories = append(m.ACLCategories, string(c.Str))
		}
	}
	for _, tip := range info.Elems[7].Elems {
		m.Tips = append(m.Tips, string(tip.Str))
	}
	if b, err = json.Marshal(plain(info.Elems[8])); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m.KeySpecs); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return formatMeta(buf.Bytes())
}

// plain is a RESP3 reply as JSON values: maps, lists, strings, integers.
func plain(v resp.Value) any {
	switch v.Type {
	case '%':
		m := map[string]any{}
		for i := 0; i+1 < len(v.Elems); i += 2 {
			m[string(v.Elems[i].Str)] = plain(v.Elems[i+1])
		}
		return m
	case '*', '~':
		l := make([]any, 0, len(v.Elems))
		for _, e := range v.Elems {
			l = append(l, plain(e))
		}
		return l
	case ':':
		return v.Int
	}
	return string(v.Str)
}

// formatMeta lays a file out: two-space indents, and any value that fits
// on its line (100 columns) on one line, but an argument with arguments
// of its own always spread over lines.
func formatMeta(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := readNode(dec)
	if err != nil {
		return nil, err
	}
	return []byte(n.format(0, 0) + "\n"), nil
}

// node is a JSON value that keeps its object keys in order.
type node struct {
	scalar string // a string, number, bool or null, as JSON
	keys   []string
	vals   []*node // an object's values (keys set) or an array's elements
	object bool
}

func readNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		n := &node{object: tok == '{', vals: []*node{}}
		for dec.More() {
			if n.object {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token() // the closing delimiter
		return n, err
	case string:
		return &node{scalar: quote(tok)}, nil
	case nil:
		return &node{scalar: "null"}, nil
	default:
		return &node{scalar: fmt.Sprint(tok)}, nil
	}
}

func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

// compact is the value on one line, "a": 1, [1, 2] spaced.
func (n *node) compact() string {
	if n.vals == nil {
		return n.scalar
	}
	parts := make([]string, len(n.vals))
	for i, v := range n.vals {
		parts[i] = v.compact()
		if n.object {
			parts[i] = quote(n.keys[i]) + ": " + parts[i]
		}
	}
	if n.object {
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (n *node) format(depth, col int) string {
	c := n.compact()
	if n.vals == nil || (depth > 0 && col+len(c) <= 100 && !(n.object && slices.Contains(n.keys, "arguments"))) {
		return c
	}
	pad := strings.Repeat("  ", depth+1)
	parts := make([]string, len(n.vals))
	for i, v := range n.vals {
		if n.object {
			k := quote(n.keys[i])
			parts[i] = pad + k + ": " + v.format(depth+1, len(pad)+len(k)+2)
		} else {
			parts[i] = pad + v.format(depth+1, len(pad))
		}
	}
	open, end := "[", "]"
	if n.object {
		open, end = "{", "}"
	}
	return open + "\n" + strings.Join(parts, ",\n") + "\n" + strings.Repeat("  ", depth) + end
}
