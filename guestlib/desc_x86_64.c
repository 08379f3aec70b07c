/* guestlib/desc_x86_64.c: builders for the GDT, TSS and IDT (x86-64).
 * They write into memory handed to them (the arena) and run on the host
 * before a vCPU starts; the CPU reads the result through guest paging.
 * References: SDM Vol. 3A 3.4.5 (segment descriptors), 7.7 (64-bit TSS),
 * 6.14.1 (64-bit IDT gates), 19.5.2 (I/O permission bitmap). */
#include <stdint.h>
#include <string.h>

#include "dune/abi.h"
#include "layout.h"

void gl_build_gdt(uint64_t *gdt, uint64_t tss_base, uint32_t tss_limit);
void gl_build_tss(void *tss, uint64_t ist1_top, const uint8_t *ring3_ports,
		  int nports);
void gl_build_idt(void *idt, const uint64_t *vectors);

/* Code/data descriptors with the accessed bit preset (the CPU would
 * otherwise write it, and KVM's emulator may refuse to). */
#define SEG_KCODE 0x00af9b000000ffffull /* L=1, P, DPL0, exec/read */
#define SEG_KDATA 0x00cf93000000ffffull /* P, DPL0, read/write */
#define SEG_UDATA 0x00cff3000000ffffull /* P, DPL3, read/write */
#define SEG_UCODE 0x00affb000000ffffull /* L=1, P, DPL3, exec/read */

void gl_build_gdt(uint64_t *gdt, uint64_t tss_base, uint32_t tss_limit)
{
	gdt[DUNE_SEL_NULL / 8] = 0;
	gdt[DUNE_SEL_KCODE / 8] = SEG_KCODE;
	gdt[DUNE_SEL_KDATA / 8] = SEG_KDATA;
	gdt[DUNE_SEL_UDATA / 8] = SEG_UDATA;
	gdt[DUNE_SEL_UCODE / 8] = SEG_UCODE;
	/* 16-byte available 64-bit TSS descriptor (type 9, P). */
	gdt[DUNE_SEL_TSS / 8] =
	    (tss_limit & 0xffffull) | ((tss_base & 0xffffffull) << 16) |
	    (0x89ull << 40) | ((uint64_t)(tss_limit >> 16 & 0xf) << 48) |
	    ((tss_base >> 24 & 0xffull) << 56);
	gdt[DUNE_SEL_TSS / 8 + 1] = tss_base >> 32;
}

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == TSS_IOMAP_OFF, "TSS is 104 bytes");
_Static_assert(ARENA_VCPU_OFF % VCPU_BLOCK_SIZE == 0,
	       "vCPU blocks are aligned to their size (entry_x86_64.S)");
_Static_assert(DUNE_GDT_ENTRIES * 8 <= VCPU_UPSTACK_PTR_OFF,
	       "the upcall stack pointer follows the GDT");

void gl_build_tss(void *tss, uint64_t ist1_top, const uint8_t *ring3_ports,
		  int nports)
{
	struct tss64 *t = tss;
	uint8_t *iomap = (uint8_t *)tss + TSS_IOMAP_OFF;
	memset(t, 0, sizeof(*t));
	t->rsp[0] = ist1_top;
	t->ist[0] = ist1_top;
	t->iomap_base = TSS_IOMAP_OFF;
	/* A set bit denies the port to CPL3; the byte after the map must be
	 * all ones (SDM 19.5.2). */
	memset(iomap, 0xff, TSS_IOMAP_BYTES + 1);
	for (int i = 0; i < nports; i++)
		iomap[ring3_ports[i] / 8] &=
		    (uint8_t) ~(1u << (ring3_ports[i] % 8));
}

void gl_build_idt(void *idt, const uint64_t *vectors)
{
	uint64_t *e = idt;
	memset(idt, 0, 256 * 16);
	for (int v = 0; v < DUNE_NR_VECTORS; v++) {
		uint64_t off = vectors[v];
		/* 64-bit interrupt gate, P, DPL0, IST1 (every vector switches
		 * stacks so ring-0 code never clobbers a red zone). */
		/* int3 and into are software interrupts: their gates must
		 * admit CPL3, or ring-3 code gets #GP instead (SDM 6.12.1.1). */
		uint64_t dpl = (v == DUNE_VEC_BP || v == DUNE_VEC_OF) ? 3 : 0;
		e[2 * v] = (off & 0xffff) | ((uint64_t)DUNE_SEL_KCODE << 16) |
			   (1ull << 32) | ((0x8eull | dpl << 5) << 40) |
			   ((off >> 16 & 0xffff) << 48);
		e[2 * v + 1] = off >> 32;
	}
}
