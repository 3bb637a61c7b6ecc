package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepairCommand plants one-sided edges in an imported SQLite source:
// --dry-run names and counts them and changes nothing; repair fixes them
// toward the following rows; a second dry run finds none.
func TestRepairCommand(t *testing.T) {
	dir := t.TempDir()
	var edges strings.Builder
	for from := 1; from <= 40; from++ {
		for to := from + 1; to <= from+5; to++ {
			fmt.Fprintf(&edges, "%d,%d,%d\n", from, to, 1000+from)
		}
	}
	flags := []string{"--dir", dir, "--source-tables", "3"}
	if _, errOut, err := run(t, strings.NewReader(edges.String()), append([]string{"import", "-"}, flags...)...); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	path := filepath.Join(dir, "relcache-source.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"DELETE FROM follower_00 WHERE touid = 3 AND fromuid = 2",            // 2->3: follower row missing
		"DELETE FROM following_02 WHERE fromuid = 5 AND touid = 9",           // 5->9: following row missing
		"UPDATE follower_01 SET addtime = 7 WHERE touid = 7 AND fromuid = 4", // 4->7: times differ
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	dump := func() string {
		var b strings.Builder
		for _, table := range []string{"following_00", "following_01", "following_02", "follower_00", "follower_01", "follower_02"} {
			rows, err := db.Query("SELECT * FROM " + table + " ORDER BY 1, 2")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var a, c, tm int64
				if err := rows.Scan(&a, &c, &tm); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "%s %d %d %d\n", table, a, c, tm)
			}
			rows.Close()
		}
		return b.String()
	}
	before := dump()

	out, errOut, err := run(t, nil, append([]string{"repair", "--dry-run", "--batch", "4"}, flags...)...)
	if err != nil {
		t.Fatalf("repair --dry-run: %v\n%s", err, errOut)
	}
	for key, want := range map[string]int{"following rows": 199, "follower rows": 199, "follower missing": 1,
		"following missing": 1, "time differs": 1, "one-sided edges": 3, "fixed": 0} {
		if got := summary(t, out, key); got != want {
			t.Errorf("dry run: %s = %d, want %d\n%s", key, got, want, out)
		}
	}
	for _, want := range []string{
		"2->3: follower row missing (following row time 1002)",
		"5->9: following row missing (follower row time 1005)",
		"4->7: times differ (following row 1004, follower row 7)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("dry run stderr lacks %q:\n%s", want, errOut)
		}
	}
	if dump() != before {
		t.Fatal("repair --dry-run changed the source")
	}

	if out, errOut, err = run(t, nil, append([]string{"repair"}, flags...)...); err != nil {
		t.Fatalf("repair: %v\n%s", err, errOut)
	}
	if got := summary(t, out, "fixed"); got != 3 {
		t.Errorf("repair fixed %d, want 3\n%s", got, out)
	}
	rows := sourceRows(t, path) // fails unless both kinds agree
	if _, ok := rows[[2]uint64{5, 9}]; ok || rows[[2]uint64{2, 3}] != 1002 || rows[[2]uint64{4, 7}] != 1004 || len(rows) != 199 {
		t.Errorf("after repair: 5->9 %v, 2->3 %d, 4->7 %d, %d edges", ok, rows[[2]uint64{2, 3}], rows[[2]uint64{4, 7}], len(rows))
	}
	if out, _, err = run(t, nil, append([]string{"repair", "--dry-run"}, flags...)...); err != nil || summary(t, out, "one-sided edges") != 0 {
		t.Errorf("dry run after repair: %v\n%s", err, out)
	}
	if _, _, err := run(t, nil, "repair", "--source", "none"); err == nil {
		t.Error("repair of --source none succeeded")
	}
	if _, _, err := run(t, nil, "repair", "--dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("repair of a missing SQLite file: %v", err)
	}
}
