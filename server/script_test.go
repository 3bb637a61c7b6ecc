package server_test

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/redisdiff"
	"github.com/relcache/relcache/internal/relcachetest"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected replies in testdata/commands/*.txt")

// TestCommandScripts runs the data-driven scripts in testdata/commands
// against a real relcache. A script is a sequence of
//
//	> COMMAND arg "quoted arg"
//	expected reply, rendered like redis-cli (several lines for arrays)
//
// blocks. An expected line starting with "~ " is a regular expression the
// rendered line must match; "!sleep 1100ms" pauses. Each file gets a fresh
// server, started with the flags on a line "!flags ...", if any.
//
// A script with a line "!redis-compatible" states that stock Redis answers
// it identically; TestCommandScriptsAgainstRedis holds it to that, so the
// expected replies are Redis's, not just what relcache happens to say. One
// with "!redis-cli" is also run command by command through the real
// redis-cli (TestRedisCLITranscripts), whose output it must match.
func TestCommandScripts(t *testing.T) {
	for _, f := range scripts(t) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			t.Parallel()
			sc := parseScript(t, f)
			p := relcachetest.Start(t, sc.flags...)
			failOnPanicLog(t, p)
			runScript(t, f, sc, p.Addr)
		})
	}
}

// failOnPanicLog fails t if p logs a recovered panic. Recovery only drops
// the connection, so a test sees an EOF; this says why. It runs as a
// cleanup, after a Fatal too, and stops the server first so the whole log
// has been read (Start's own cleanup reports how the server exited).
func failOnPanicLog(t testing.TB, p *relcachetest.Proc) {
	t.Cleanup(func() {
		p.Stop()
		if p.HasLog("panic while serving client") {
			t.Errorf("the server logged a panic:\n%s", p.Logs())
		}
	})
}

// TestCommandScriptsAgainstRedis runs each !redis-compatible script on a
// stock redis-server and on relcache side by side, through the
// differential engine (internal/redisdiff): every reply must be the same
// bytes, or a difference its allow-list names.
func TestCommandScriptsAgainstRedis(t *testing.T) {
	for _, f := range scripts(t) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			sc := parseScript(t, f)
			if !sc.redisCompatible {
				t.Skip("script is relcache-specific (no !redis-compatible line)")
			}
			t.Parallel()
			run := redisdiff.Runner{Redis: relcachetest.StartRedis(t)}
			p := relcachetest.Start(t, sc.flags...)
			failOnPanicLog(t, p)
			run.Relcache = p.Addr
			res, err := run.Run(sc.steps())
			if err != nil {
				t.Fatal(err)
			}
			if res.Divergence != nil {
				t.Errorf("%s: %s", f, res.Divergence)
			}
			if len(res.Excused) > 0 {
				t.Logf("excused: %v", res.Excused)
			}
		})
	}
}

// steps are the script's commands and pauses for the differential engine.
func (sc script) steps() []redisdiff.Step {
	var steps []redisdiff.Step
	for _, b := range sc.blocks {
		switch {
		case b.args != nil:
			steps = append(steps, redisdiff.Step{Args: b.args})
		case strings.HasPrefix(b.cmd, "!sleep "):
			d, _ := time.ParseDuration(strings.TrimSpace(b.cmd[len("!sleep "):]))
			steps = append(steps, redisdiff.Step{Sleep: d})
		}
	}
	return steps
}

func scripts(t *testing.T) []string {
	files, err := filepath.Glob("testdata/commands/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	return files
}

type block struct {
	cmd  string
	args []string
	want []string
}

type script struct {
	flags           []string
	redisCompatible bool
	redisCLI        bool
	blocks          []block
	header          string // the ! lines, kept by -rewrite
}

func parseScript(t *testing.T, path string) script {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sc script
	var blocks []block
	lines := strings.Split(string(data), "\n")
	for n, line := range lines {
		switch {
		case line == "!redis-compatible":
			sc.redisCompatible = true
			sc.header += line + "\n"
		case line == "!redis-cli":
			sc.redisCLI = true
			sc.header += line + "\n"
		case strings.HasPrefix(line, "!flags "):
			sc.flags = strings.Fields(line[len("!flags "):])
			sc.header += line + "\n"
		case strings.HasPrefix(line, "!sleep "), strings.HasPrefix(line, "> "), strings.HasPrefix(line, ">> "):
			var args []string
			if line[0] == '>' {
				args, err = splitArgs(strings.TrimLeft(line, ">"))
				if err != nil {
					t.Fatalf("%s:%d: %v", path, n+1, err)
				}
			}
			blocks = append(blocks, block{cmd: line, args: args})
		case line == "" && n == len(lines)-1:
		case strings.HasPrefix(line, "#") || line == "":
			blocks = append(blocks, block{cmd: line}) // kept for -rewrite
		default:
			if len(blocks) == 0 {
				t.Fatalf("%s:%d: reply before any command", path, n+1)
			}
			b := &blocks[len(blocks)-1]
			b.want = append(b.want, line)
		}
	}
	sc.blocks = blocks
	return sc
}

func runScript(t *testing.T, path string, sc script, addr string) {
	blocks := sc.blocks
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	var out strings.Builder
	failed := false
	for _, b := range blocks {
		if b.args == nil && !strings.HasPrefix(b.cmd, "!") {
			fmt.Fprintf(&out, "%s\n", b.cmd)
			continue
		}
		if strings.HasPrefix(b.cmd, "!sleep ") {
			d, err := time.ParseDuration(strings.TrimSpace(b.cmd[len("!sleep "):]))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(d)
			fmt.Fprintf(&out, "%s\n", b.cmd)
			continue
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(encodeCommand(b.args)); err != nil {
			t.Fatalf("%s: write: %v", b.cmd, err)
		}
		v, err := readReply(rd)
		if err != nil {
			t.Fatalf("%s: read reply: %v", b.cmd, err)
		}
		if strings.HasPrefix(b.cmd, ">> ") {
			v = sortArrays(v)
		}
		got := render(v, "")
		fmt.Fprintf(&out, "%s\n", b.cmd)
		for i, g := range got {
			if i < len(b.want) && strings.HasPrefix(b.want[i], "~ ") {
				fmt.Fprintf(&out, "%s\n", b.want[i])
			} else {
				fmt.Fprintf(&out, "%s\n", g)
			}
		}
		if !matchLines(b.want, got) {
			failed = true
			t.Errorf("%s\n got: %s\nwant: %s", b.cmd, strings.Join(got, "\n      "), strings.Join(b.want, "\n      "))
		}
	}
	if *rewrite && failed {
		os.WriteFile(path, []byte(sc.header+out.String()), 0o644)
	}
}

func matchLines(want, got []string) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if re, ok := strings.CutPrefix(want[i], "~ "); ok {
			if !regexp.MustCompile("^(?:" + re + ")$").MatchString(got[i]) {
				return false
			}
		} else if want[i] != got[i] {
			return false
		}
	}
	return true
}

// splitArgs splits a command line on spaces; "double quoted" arguments are
// Go-unquoted so they can hold spaces and any byte.
func splitArgs(s string) ([]string, error) {
	var args []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := 1
			for end < len(s) && (s[end] != '"' || s[end-1] == '\\') {
				end++
			}
			if end == len(s) {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			a, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			s = s[end+1:]
			continue
		}
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			i = len(s)
		}
		args = append(args, s[:i])
		s = s[i:]
	}
	return args, nil
}

func encodeCommand(args []string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// Reply values from readReply.
type (
	status  string
	errResp string
	nilResp struct{}
)

// readReply reads one RESP2/RESP3 reply: the test's own reader, so the
// scripts see exactly what the server sent (go-redis would hide the
// difference between a status and a bulk string).
func readReply(rd *bufio.Reader) (any, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return status(body), nil
	case '-':
		return errResp(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '_':
		return nilResp{}, nil
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nilResp{}, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(rd, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*', '%', '~':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nilResp{}, nil
		}
		if line[0] == '%' {
			n *= 2
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = readReply(rd); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unknown reply type %q", line)
}

func ioReadFull(rd *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := rd.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sortArrays orders every array in v by the rendering of its elements, for
// replies whose order is unspecified (KEYS, SCAN): scripts mark those
// commands with ">> " instead of "> ".
func sortArrays(v any) any {
	arr, ok := v.([]any)
	if !ok {
		return v
	}
	for i := range arr {
		arr[i] = sortArrays(arr[i])
	}
	slices.SortStableFunc(arr, func(a, b any) int {
		return strings.Compare(strings.Join(render(a, ""), "\n"), strings.Join(render(b, ""), "\n"))
	})
	return arr
}

// render prints a reply the way redis-cli does.
func render(v any, indent string) []string {
	switch x := v.(type) {
	case status:
		return []string{string(x)}
	case errResp:
		return []string{"(error) " + string(x)}
	case int64:
		return []string{"(integer) " + strconv.FormatInt(x, 10)}
	case nilResp:
		return []string{"(nil)"}
	case string:
		return []string{strconv.Quote(x)}
	case []any:
		if len(x) == 0 {
			return []string{"(empty array)"}
		}
		// Indexes are right-aligned to the widest, as redis-cli does.
		w := len(strconv.Itoa(len(x)))
		var out []string
		for i, e := range x {
			prefix := fmt.Sprintf("%*d) ", w, i+1)
			sub := render(e, indent+strings.Repeat(" ", len(prefix)))
			out = append(out, prefix+sub[0])
			for _, s := range sub[1:] {
				out = append(out, strings.Repeat(" ", len(prefix))+s)
			}
		}
		return out
	}
	return []string{fmt.Sprintf("?%v", v)}
}
