// The part of the batch kernels (batch_amd64.s, batch3_amd64.s) that
// versions 1 and 3 share: from the two group indexes (BX g1, AX g2) and the
// tag in X0's low byte to the candidates. It leaves BX = p1 (group 1's
// address), AX = p2m (group 2's, less 8W), R13 = A and R14 = B, the first
// and the last of at most two candidates (0..15; 16 for none, and B = A
// for one), and R15B = 1 when there is any; it jumps to slow on three or
// more. X8 holds 0x80 in every byte.
#define CANDIDATES(GB, CW, CW2, M8W) \
	IMULQ $GB, BX; \
	IMULQ $GB, AX; \
	LEAQ (R8)(BX*1), BX; \
	LEAQ M8W(R8)(AX*1), AX; \
	VPBROADCASTB X0, X0; \
	VPOR X8, X0, X0; \
	VMOVQ CW(BX), X1; \
	VPINSRQ $1, CW2(AX), X1, X1; \
	VPCMPEQB X0, X1, X2; \
	VPMOVMSKB X2, R13; \
	BLSRL R13, R14; \
	BLSRL R14, R15; \
	JNE slow; \
	TZCNTW R13, R13; \
	SETCC R15B; \
	TZCNTW R14, R14; \
	CMOVQCS R13, R14

// NEXT stores the answer (R13B or R14B, if a candidate exists) and loops;
// at the end, and at slow, it returns (the result at RETARG(FP)) n, or the
// index of the uid it left to the caller.
#define NEXT(RETARG) \
	ORB R14B, R13B; \
	ANDB R15B, R13B; \
	MOVB R13B, (DI)(CX*1); \
	INCQ CX; \
	JNE loop; \
	VZEROUPPER; \
done: \
	RET; \
slow: \
	ADDQ CX, RETARG(FP); \
	VZEROUPPER; \
	RET
