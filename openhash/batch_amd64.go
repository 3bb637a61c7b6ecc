//go:build amd64 && !purego

package openhash

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// batchAsm is the amd64 kernel for the version-1 batch probe, in
// batch_amd64.s, used where the CPU has AVX2, BMI1 and BMI2 (checked once,
// here). It is hand-written because Go's kernel (batchW) could not be
// brought under about 70 instructions per uid, and docs/benchmarks.md
// ("openhash batch probe in amd64 assembly") has the measurement that keeps
// it: MULX, BZHI, BLSR and TZCNT, and both control words compared as one
// 16-byte vector, which gives the exact tag matches (the candidates findW
// and the format's lookup compare), so a uid with up to two candidates in
// its two groups needs no branch.
//
// useBatchAsm is a variable only so that the tests can compare the kernel
// with Go's on the same machine.
var useBatchAsm = cpu.X86.HasAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasBMI2

// batchAsm writes out[j] = s.Contains(uids[j]) for a version-1 set and
// reports true, or reports false (writing nothing) where the kernel does
// not run. len(out) >= len(uids).
func (s *Set) batchAsm(out []bool, uids []uint64) bool {
	if !useBatchAsm || len(s.groups) == 0 || s.width < 1 || s.width > 8 {
		return false
	}
	kernel := batchKernels[s.width-1]
	base := unsafe.Pointer(unsafe.SliceData(s.groups))
	for len(uids) > 0 {
		n := min(len(uids), kernelMax)
		k := kernel(base, unsafe.SliceData(out), unsafe.SliceData(uids), n, s.seed, s.ng)
		if k < n {
			// A uid with three or more candidates (0.4% of the
			// benchmark's uids at 3000 members, 1% at 100): the scalar
			// lookup, which compares them all.
			out[k] = s.Contains(uids[k])
			k++
		}
		out, uids = out[k:], uids[k:]
	}
	return true
}

// batchAsmQ is batchAsm for version 3 (batch3_amd64.s).
func (s *Set) batchAsmQ(out []bool, uids []uint64) bool {
	if !useBatchAsm || len(s.groups) == 0 || s.width < 1 || s.width > 8 {
		return false
	}
	kernel := batchKernelsQ[s.width-1]
	base := unsafe.Pointer(unsafe.SliceData(s.groups))
	q := &s.q
	for len(uids) > 0 {
		n := min(len(uids), kernelMax)
		k := kernel(base, unsafe.SliceData(out), unsafe.SliceData(uids), n,
			s.seed, q.k1, q.hmask, permK2, s.ng, q.fmask, uint64(q.r), uint64(q.tsh), ^q.umask, uint64(q.rb))
		if k < n {
			out[k] = s.Contains(uids[k]) // three or more candidates
			k++
		}
		out, uids = out[k:], uids[k:]
	}
	return true
}

// kernelMax is the most uids one kernel call probes. The runtime cannot
// preempt a goroutine inside an assembly function, so a call is kept to
// about 25 us (4096 uids at ~6 ns; out of cache, several times that), as
// Go's own loops are, whatever batch a client sends.
const kernelMax = 4096

// batchKernels is indexed by the slot width minus one.
var batchKernels = [8]func(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int{
	batchV1w1, batchV1w2, batchV1w3, batchV1w4, batchV1w5, batchV1w6, batchV1w7, batchV1w8,
}

// batchKernelsQ is indexed by the slot width minus one.
var batchKernelsQ = [8]func(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int{
	batchV3w1, batchV3w2, batchV3w3, batchV3w4, batchV3w5, batchV3w6, batchV3w7, batchV3w8,
}

// Each probes uids[0:n] of a version-1 set whose groups start at base,
// with slots of N bytes, writing out[0:n], and returns n, or the index of
// the first uid it leaves to the caller (out is written below it).
// base must point at ng >= 1 groups.

//go:noescape
func batchV1w1(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV1w2(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV1w3(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV1w4(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV1w5(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV1w6(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV1w7(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV1w8(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int

//go:noescape
func batchV3w1(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int

//go:noescape
func batchV3w2(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int

//go:noescape
func batchV3w3(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int

//go:noescape
func batchV3w4(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int

//go:noescape
func batchV3w5(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int

//go:noescape
func batchV3w6(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int

//go:noescape
func batchV3w7(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int

//go:noescape
func batchV3w8(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int
