package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// A latency tail on a virtual machine is often not the server's: the
// hypervisor runs another guest on "our" core (steal time), and every
// request queued behind that pause waits with it. The capacity run reads the
// host's CPU counters each second so a report says whether its tail came
// with steal. They are the client's host: the server's only when both run
// on one machine, as in docs/capacity.md.

// cpuTimes is the aggregate "cpu" line of /proc/stat, in clock ticks.
type cpuTimes struct {
	busy, steal, total uint64
}

const procStat = "/proc/stat"

// readCPUTimes reads the host's CPU counters; it fails off Linux.
func readCPUTimes() (cpuTimes, error) {
	data, err := os.ReadFile(procStat)
	if err != nil {
		return cpuTimes{}, err
	}
	return parseCPUTimes(data)
}

// parseCPUTimes parses the first line of /proc/stat: "cpu user nice
// system idle iowait irq softirq steal guest guest_nice". Guest time is
// already inside user and nice, so it is not added again; idle and iowait
// are not busy.
func parseCPUTimes(data []byte) (cpuTimes, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, errors.New("proc stat: no aggregate cpu line with steal")
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}, errors.New("proc stat: bad cpu counter " + strconv.Quote(f[i+1]))
		}
		v[i] = n
	}
	var t cpuTimes
	for _, n := range v {
		t.total += n
	}
	t.steal = v[7]
	t.busy = t.total - v[3] - v[4] - t.steal
	return t, nil
}

// hostCPUCores counts the cpuN lines of /proc/stat: the host's cores, which
// runtime.NumCPU (this process's affinity) may undercount when the client
// is pinned.
func hostCPUCores() int {
	f, err := os.Open(procStat)
	if err != nil {
		return runtime.NumCPU()
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if len(l) > 3 && strings.HasPrefix(l, "cpu") && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return max(n, 1)
}

// share returns the fractions of the host's CPU time between a and b that
// were busy and stolen, in cores (2 = two whole cores).
func (b cpuTimes) share(a cpuTimes, cores int) (busy, steal float64) {
	d := float64(b.total - a.total)
	if b.total <= a.total {
		return 0, 0
	}
	return float64(b.busy-a.busy) / d * float64(cores), float64(b.steal-a.steal) / d * float64(cores)
}

// HostCPU is the client host's CPU during the recorded part of the run.
type HostCPU struct {
	Cores int `json:"cores"`
	// Busy and Steal are in cores: 1.5 = one and a half cores' time.
	// Steal is time the hypervisor gave to someone else while this
	// machine had work.
	Busy           float64 `json:"busy_cores"`
	Steal          float64 `json:"steal_cores"`
	StealMaxSecond float64 `json:"steal_cores_max_second"` // the worst second
}

// sampleCPU reads the host's CPU counters at start and each second after
// it until ctx is done. The returned func waits for the sampler to stop
// (cancel ctx first) and gives the samples; none when the host has no
// /proc/stat.
func sampleCPU(ctx context.Context, start time.Time) func() []cpuTimes {
	if _, err := readCPUTimes(); err != nil {
		return func() []cpuTimes { return nil }
	}
	var samples []cpuTimes
	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(time.Until(start))
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			t, err := readCPUTimes()
			if err != nil {
				return
			}
			samples = append(samples, t)
			timer.Reset(time.Until(start.Add(time.Duration(len(samples)) * time.Second)))
		}
	}()
	return func() []cpuTimes {
		<-done
		return samples
	}
}

// hostCPU sums the host's CPU from the samples of the run (the first at the
// start of the recording, then one a second) and notes each second's steal
// in the timeline. It is nil when the host has no /proc/stat.
func hostCPU(samples []cpuTimes, timeline []Second) *HostCPU {
	last, err := readCPUTimes()
	if len(samples) == 0 || err != nil {
		return nil
	}
	samples = append(samples, last)
	h := &HostCPU{Cores: hostCPUCores()}
	h.Busy, h.Steal = last.share(samples[0], h.Cores)
	for i := 1; i < len(samples); i++ {
		_, st := samples[i].share(samples[i-1], h.Cores)
		h.StealMaxSecond = max(h.StealMaxSecond, st)
		if i-1 < len(timeline) {
			timeline[i-1].Steal = st
		}
	}
	return h
}
