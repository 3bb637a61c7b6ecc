package redisdiff

import (
	"fmt"
	"strings"
)

// Script renders a program as a shell snippet that replays it with
// redis-cli against port $PORT (6379 when unset): paste it once with the
// port of a redis-server and once with relcache's and compare the output.
// It starts with the FLUSHALL every run starts with. One connection is one
// redis-cli reading a here-document; several are one redis-cli each, fed
// line by line with a short pause between batches so the connections take
// turns as they did in the run, and each output line is prefixed with its
// connection.
func Script(steps []Step) string {
	conns := map[int]bool{}
	for _, s := range steps {
		conns[s.Conn] = true
	}
	var b strings.Builder
	if len(conns) <= 1 {
		b.WriteString("redis-cli -p \"${PORT:-6379}\" --no-raw <<'REDISDIFF_END'\nFLUSHALL\n")
		for _, s := range steps {
			if len(s.Args) == 0 {
				continue // a pause matters only between connections' turns
			}
			b.WriteString(cliLine(s.Args) + "\n")
		}
		b.WriteString("REDISDIFF_END\n")
		return b.String()
	}
	// File descriptors 3 and up, one per connection, in order of first use.
	fd := map[int]int{}
	var opens []string
	for _, s := range steps {
		if _, ok := fd[s.Conn]; !ok {
			fd[s.Conn] = 3 + len(fd)
			opens = append(opens, fmt.Sprintf("%d> >(redis-cli -p \"${PORT:-6379}\" --no-raw | sed -u 's/^/[%d] /')", fd[s.Conn], s.Conn+1))
		}
	}
	b.WriteString("exec " + strings.Join(opens, " ") + "\n")
	first := fd[steps[0].Conn]
	fmt.Fprintf(&b, "echo FLUSHALL >&%d\n", first)
	last := first
	for _, s := range steps {
		if len(s.Args) == 0 {
			fmt.Fprintf(&b, "sleep %.3f\n", s.Sleep.Seconds())
			continue
		}
		if fd[s.Conn] != last {
			b.WriteString("sleep 0.2\n")
			last = fd[s.Conn]
		}
		fmt.Fprintf(&b, "echo %s >&%d\n", shellQuote(cliLine(s.Args)), last)
	}
	b.WriteString("sleep 0.2\nexec")
	for i := range len(fd) {
		fmt.Fprintf(&b, " %d>&-", 3+i)
	}
	b.WriteString("\nsleep 0.2\n")
	return b.String()
}

// cliLine writes args as one line redis-cli splits back into them (its
// sdssplitargs rules): plain words bare, anything else double-quoted with
// \" \\ \n \r \t and \xHH escapes.
func cliLine(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = cliWord(a)
	}
	return strings.Join(words, " ")
}

func cliWord(a string) string {
	plain := a != ""
	for i := 0; i < len(a) && plain; i++ {
		c := a[i]
		plain = c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '\\'
	}
	if plain {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shellQuote single-quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
