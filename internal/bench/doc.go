// Package bench is the load generator behind `relcache-bench`: it loads a
// synthetic follow graph (package graphgen) into relcache (one SET of a
// client-built openhash array per list) and into a stock Redis (one hash per
// list, the layout relcache replaces), and measures both with the same
// client code in the same run.
package bench
