package loader

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// readAll reads every edge of in, collecting bad lines as "line N: reason".
func readAll(t testing.TB, in string, opts EdgeReaderOptions) (edges []Edge, bad []string) {
	er := NewEdgeReader(strings.NewReader(in), opts)
	for {
		e, err := er.Next()
		var le *LineError
		switch {
		case err == io.EOF:
			return edges, bad
		case errors.As(err, &le):
			if le.Line != er.Line() {
				t.Fatalf("error names line %d, reader is at %d", le.Line, er.Line())
			}
			bad = append(bad, le.Error())
		case err != nil:
			t.Fatalf("read: %v", err)
		default:
			edges = append(edges, e)
		}
	}
}

func TestEdgeReader(t *testing.T) {
	long := "1," + strings.Repeat("2", 2000) + "\n"
	for _, tc := range []struct {
		name  string
		in    string
		edges []Edge
		bad   []string
	}{
		{name: "empty"},
		{name: "csv with header and comments",
			in:    "# a graph\nfromuid,touid,addtime\n\n1,2,100\n  # indented comment\n3, 4 ,200\r\n",
			edges: []Edge{{1, 2, 100}, {3, 4, 200}}},
		{name: "tsv without addtime takes the default",
			in:    "FromUID\tToUID\n10\t20\n30 40\t7\n",
			edges: []Edge{{10, 20, 42}, {30, 40, 7}}},
		{name: "last line without newline",
			in:    "1 2 3",
			edges: []Edge{{1, 2, 3}}},
		{name: "largest values",
			in:    "18446744073709551615,0,4294967295\n",
			edges: []Edge{{1<<64 - 1, 0, 1<<32 - 1}}},
		{name: "header only before the first edge",
			in:    "1,2\nfromuid,touid\n",
			edges: []Edge{{1, 2, 42}},
			bad:   []string{`line 2: fromuid "fromuid" is not a uid (an unsigned 64-bit decimal)`}},
		{name: "bad lines are named and skipped",
			in:    "1,2\n3,abc\n5\n6,7,8,9,10,11\n9,9\n-1,2\n1,2,4294967296\n1,2,\n,2\n11,12,now\n13,14\n" + long + "15,16\n",
			edges: []Edge{{1, 2, 42}, {13, 14, 42}, {15, 16, 42}},
			bad: []string{
				`line 2: touid "abc" is not a uid (an unsigned 64-bit decimal)`,
				`line 3: want fromuid,touid[,addtime], got 1 fields`,
				`line 4: want fromuid,touid[,addtime], got 6 fields`,
				`line 5: uid 9 follows itself`,
				`line 6: fromuid "-1" is not a uid (an unsigned 64-bit decimal)`,
				`line 7: addtime "4294967296" is not Unix seconds in 32 bits`,
				`line 8: addtime is empty (leave out the separator too to use the default)`,
				`line 9: fromuid is empty`,
				`line 10: addtime "now" is not Unix seconds in 32 bits`,
				`line 12: longer than 1024 bytes (2002)`,
			}},
		{name: "blank-separated fields",
			in:    "1 \t 2\f3\n1 2 3 4 5 6\n",
			edges: []Edge{{1, 2, 3}},
			bad:   []string{`line 2: want fromuid,touid[,addtime], got 6 fields`}},
		{name: "uid above 64 bits",
			in:  "18446744073709551616,1\n",
			bad: []string{`line 1: fromuid "18446744073709551616" is not a uid (an unsigned 64-bit decimal)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edges, bad := readAll(t, tc.in, EdgeReaderOptions{DefaultTime: 42})
			if !slices.Equal(edges, tc.edges) {
				t.Errorf("edges %v, want %v", edges, tc.edges)
			}
			if !slices.Equal(bad, tc.bad) {
				t.Errorf("bad lines:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(tc.bad, "\n"))
			}
		})
	}
}

func TestEdgeReaderLimits(t *testing.T) {
	edges, bad := readAll(t, "9223372036854775807,1\n9223372036854775808,1\n1,2\n",
		EdgeReaderOptions{MaxUID: 1<<63 - 1, MaxLineLen: 30})
	if want := []Edge{{1<<63 - 1, 1, 0}, {1, 2, 0}}; !slices.Equal(edges, want) {
		t.Errorf("edges %v, want %v", edges, want)
	}
	if want := []string{"line 2: fromuid 9223372036854775808 is above 9223372036854775807, the largest uid the source stores"}; !slices.Equal(bad, want) {
		t.Errorf("bad %q, want %q", bad, want)
	}
	_, bad = readAll(t, strings.Repeat("1", 31)+"\n1,2\n", EdgeReaderOptions{MaxLineLen: 30})
	if want := []string{"line 1: longer than 30 bytes (31)"}; !slices.Equal(bad, want) {
		t.Errorf("bad %q, want %q", bad, want)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	f.n--
	return copy(p, "1,2\n"), nil
}

func TestEdgeReaderReadErrorIsFinal(t *testing.T) {
	er := NewEdgeReader(&failingReader{n: 1}, EdgeReaderOptions{})
	if e, err := er.Next(); err != nil || e != (Edge{1, 2, 0}) {
		t.Fatalf("first edge %v, %v", e, err)
	}
	for range 2 {
		_, err := er.Next()
		var le *LineError
		if err == nil || err == io.EOF || errors.As(err, &le) || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("got %v, want the read error", err)
		}
	}
}

func FuzzEdgeReader(f *testing.F) {
	for _, s := range []string{
		"fromuid,touid,addtime\n1,2,3\n",
		"1\t2\n# c\n\n3 4 5\r\n",
		"1,1\n",
		"18446744073709551615,0,4294967295",
		"1,2,\n,\n,,,\n",
		strings.Repeat("9", 1100) + "\n1,2\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		er := NewEdgeReader(strings.NewReader(in), EdgeReaderOptions{DefaultTime: 7, MaxLineLen: 200})
		var line []byte
		for {
			e, err := er.Next()
			var le *LineError
			if err == io.EOF {
				break
			}
			if errors.As(err, &le) {
				continue
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if e.From == e.To {
				t.Fatalf("self-follow %v yielded", e)
			}
			line = AppendEdge(line[:0], e)
			back, bad := readAll(t, string(line), EdgeReaderOptions{DefaultTime: 9})
			if len(bad) != 0 || len(back) != 1 || back[0] != e {
				t.Fatalf("edge %v formats to %q, which reads back as %v (bad %q)", e, line, back, bad)
			}
		}
		if er.Line() > strings.Count(in, "\n")+1 {
			t.Fatalf("read %d lines of an input with %d newlines", er.Line(), strings.Count(in, "\n"))
		}
	})
}

func BenchmarkEdgeReader(b *testing.B) {
	var in []byte
	for i := range uint64(10_000) {
		in = AppendEdge(in, Edge{From: 1_000_000_000 + i, To: 1_000_000_000 + i*7 + 1, Time: 1_650_000_000 + uint32(i)})
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		er := NewEdgeReader(bytes.NewReader(in), EdgeReaderOptions{})
		for {
			if _, err := er.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
