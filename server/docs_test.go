package server

import (
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/cmdmeta"
)

var rewriteDocs = flag.Bool("rewrite-docs", false, "rewrite docs/commands.md's command reference from internal/cmdmeta/commands/")

const (
	refBegin = "<!-- BEGIN command reference: generated from internal/cmdmeta/commands/ by TestCommandReference (go test ./server -run TestCommandReference -rewrite-docs); do not edit -->"
	refEnd   = "<!-- END command reference -->"
)

// TestCommandReference keeps docs/commands.md's command reference equal to
// what the command table says (synopsis, arity, flags, summary): a command
// added, removed or changed in internal/cmdmeta/commands/ and not in the page fails
// here until the page is regenerated.
func TestCommandReference(t *testing.T) {
	const path = "../docs/commands.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(string(doc), refBegin), strings.Index(string(doc), refEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no command reference between %q and %q", path, refBegin, refEnd)
	}
	want := refBegin + "\n" + commandReference(newTestServer(t)) + refEnd
	if got := string(doc[i : j+len(refEnd)]); got != want {
		if *rewriteDocs {
			if err := os.WriteFile(path, []byte(string(doc[:i])+want+string(doc[j+len(refEnd):])), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
		for k := range max(len(gotLines), len(wantLines)) {
			g, w := at(gotLines, k), at(wantLines, k)
			if g != w {
				t.Fatalf("%s's command reference is not the command table's (line %d):\n got: %s\nwant: %s\nregenerate it: go test ./server -run TestCommandReference -rewrite-docs", path, k+1, g, w)
			}
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(none)"
}

// commandReference is the table: one row per command and subcommand.
func commandReference(s *Server) string {
	var b strings.Builder
	b.WriteString("| command | arity | flags | since | summary |\n|---|---|---|---|---|\n")
	for _, cmd := range s.everyCommand() {
		m := cmd.meta
		syn := strings.ToUpper(strings.ReplaceAll(cmd.name, "|", " "))
		if len(cmd.subs) > 0 {
			syn += " subcommand ..."
		} else if args := synopsis(m.Arguments); args != "" {
			syn += " " + args
		}
		b.WriteString("| `" + strings.ReplaceAll(syn, "|", `\|`) + "` | " + strconv.Itoa(m.Arity) + " | " +
			strings.Join(m.FlagsForInfo(), ", ") + " | " + m.Since + " | " + strings.ReplaceAll(m.Summary, "|", `\|`) + " |\n")
	}
	return b.String()
}

// synopsis renders an argument tree as Redis's documentation writes a
// command's syntax: [optional], a choice as a | b (in <> when required),
// and what may repeat as x [x ...].
func synopsis(args []cmdmeta.Arg) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, argSyntax(a))
	}
	return strings.Join(parts, " ")
}

func argSyntax(a cmdmeta.Arg) string {
	has := func(f string) bool {
		for _, x := range a.Flags {
			if x == f {
				return true
			}
		}
		return false
	}
	var v string
	switch a.Type {
	case "pure-token":
		v = a.Token
	case "oneof":
		alts := make([]string, 0, len(a.Arguments))
		for _, s := range a.Arguments {
			alts = append(alts, argSyntax(s))
		}
		v = strings.Join(alts, " | ")
		if !has("optional") || a.Token != "" {
			v = "<" + v + ">"
		}
	case "block":
		v = synopsis(a.Arguments)
	default:
		v = a.Name
	}
	tok := ""
	if a.Token != "" && a.Type != "pure-token" {
		tok = a.Token + " "
	}
	switch {
	case has("multiple") && has("multiple_token"):
		v = tok + v + " [" + tok + v + " ...]"
	case has("multiple"):
		v = tok + v + " [" + v + " ...]"
	default:
		v = tok + v
	}
	if has("optional") {
		v = "[" + v + "]"
	}
	return v
}

// TestEveryCommandDocumented keeps docs/commands.md's hand-written tables in
// step with the command table: each command must be described there (in
// backquotes), and each command a table row starts with must exist.
func TestEveryCommandDocumented(t *testing.T) {
	raw, err := os.ReadFile("../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	if i := strings.Index(doc, refBegin); i >= 0 {
		doc = doc[:i] // the prose, not the generated reference
	}
	s := newTestServer(t)
	for name := range s.cmds {
		if !strings.Contains(doc, "`"+strings.ToUpper(name)) {
			t.Errorf("docs/commands.md does not document %s", strings.ToUpper(name))
		}
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Z_]+)(?: ([A-Z][A-Z-]+)\\b)?")
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		cmd := s.cmds[strings.ToLower(m[1])]
		switch {
		case cmd == nil:
			t.Errorf("docs/commands.md describes %s, which relcache does not serve", m[1])
		case m[2] != "" && cmd.subs != nil && cmd.subs[strings.ToLower(m[2])] == nil:
			t.Errorf("docs/commands.md describes %s %s, which relcache does not serve", m[1], m[2])
		}
	}
}
