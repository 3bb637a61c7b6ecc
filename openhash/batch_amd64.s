//go:build amd64 && !purego

#include "textflag.h"
#include "batch_amd64.h"

// The version-1 batch probe (batch_amd64.go says when it runs and why it
// exists). One function per slot width W, so that W, the group size GB =
// 8W+8 and the control word's offset are immediates; the body is the
// macro KERNEL. Per uid:
//
//   - the hash (two MULX folds), both groups by multiply-shift, their
//     addresses p1 = base + g1*GB and p2m = base + g2*GB - 8W;
//   - both control words in one XMM register, compared bytewise with the
//     broadcast tag: the exact matches, bits 0-7 group 1, 8-15 group 2, the
//     candidates of the format's lookup (docs/openhash-format.md 3.1) and
//     of findW; a uid with three or more is left to Go's exact path (the
//     function returns its index);
//   - otherwise the first and the last of at most two candidates k (0..15;
//     16 when there is none) are compared: slot k's 8 bytes are at p1 +
//     k*W for k < 8 and at p2m + k*W above. k = 16 reads group 2's control
//     word, in bounds; it counts only when a candidate exists.
//
// Every access stays inside the groups for the reasons kernel.go gives
// (g < ng from the multiply; k <= 16), for any bytes.
//
// Registers: R8 base, SI uids end, DI out end, CX index from -n to 0, R9 8W
// (BZHI's bit count), R10 ng, R11 seed, R12 the uid; AX BX DX R13 R14 R15
// and X0-X2 per uid; X8 0x80 in every byte.

DATA hashk<>+0(SB)/8, $0x9e3779b97f4a7c15
DATA hashk<>+8(SB)/8, $0xbf58476d1ce4e5b9
GLOBL hashk<>(SB), RODATA|NOPTR, $16

#define KERNEL(W, GB, CW, CW2, M8W) \
	MOVQ base+0(FP), R8; \
	MOVQ out+8(FP), DI; \
	MOVQ uids+16(FP), SI; \
	MOVQ n+24(FP), CX; \
	MOVQ seed+32(FP), R11; \
	MOVQ ng+40(FP), R10; \
	MOVQ CX, ret+48(FP); \
	TESTQ CX, CX; \
	JEQ done; \
	MOVQ $(8*W), R9; \
	MOVQ $0x8080808080808080, AX; \
	VMOVQ AX, X8; \
	VPBROADCASTQ X8, X8; \
	LEAQ (SI)(CX*8), SI; \
	ADDQ CX, DI; \
	NEGQ CX; \
loop: \
	MOVQ (SI)(CX*8), R12; \
	MOVQ R12, DX; \
	XORQ R11, DX; \
	MULXQ hashk<>+0(SB), AX, DX; \
	XORQ AX, DX; \
	MULXQ hashk<>+8(SB), AX, DX; \
	XORQ AX, DX; \
	VMOVQ DX, X0; \
	MULXQ R10, AX, BX; \
	MOVQ AX, DX; \
	MULXQ R10, AX, AX; \
	CANDIDATES(GB, CW, CW2, M8W); \
	MOVQ AX, DX; \
	CMPQ R13, $8; \
	CMOVQCS BX, DX; \
	IMULQ $W, R13; \
	BZHIQ R9, (DX)(R13*1), DX; \
	CMPQ DX, R12; \
	SETEQ R13B; \
	CMPQ R14, $8; \
	CMOVQCS BX, AX; \
	IMULQ $W, R14; \
	BZHIQ R9, (AX)(R14*1), AX; \
	CMPQ AX, R12; \
	SETEQ R14B; \
	NEXT(ret+48)

// func batchV1wN(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, ng uint64) int
TEXT ·batchV1w1(SB), NOSPLIT, $0-56
	KERNEL(1, 16, 8, 16, -8)

TEXT ·batchV1w2(SB), NOSPLIT, $0-56
	KERNEL(2, 24, 16, 32, -16)

TEXT ·batchV1w3(SB), NOSPLIT, $0-56
	KERNEL(3, 32, 24, 48, -24)

TEXT ·batchV1w4(SB), NOSPLIT, $0-56
	KERNEL(4, 40, 32, 64, -32)

TEXT ·batchV1w5(SB), NOSPLIT, $0-56
	KERNEL(5, 48, 40, 80, -40)

TEXT ·batchV1w6(SB), NOSPLIT, $0-56
	KERNEL(6, 56, 48, 96, -48)

TEXT ·batchV1w7(SB), NOSPLIT, $0-56
	KERNEL(7, 64, 56, 112, -56)

TEXT ·batchV1w8(SB), NOSPLIT, $0-56
	KERNEL(8, 72, 64, 128, -64)
