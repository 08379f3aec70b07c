/* tests/unit/test_desc.c: the GDT, TSS (with I/O permission bitmap) and IDT
 * builders (guestlib/desc_x86_64.c), decoded field by field as the CPU
 * reads them (SDM Vol. 3A 3.4.5, 7.7, 6.14.1, 19.5.2). No KVM. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "dune/abi.h"
#include "layout.h"

/* The builders' prototypes live in vmm/vmm.h, which drags in KVM headers;
 * repeat them here (the linker checks the names). */
void gl_build_gdt(uint64_t *gdt, uint64_t tss_base, uint32_t tss_limit);
void gl_build_tss(void *tss, uint64_t ist1_top, const uint8_t *ring3_ports,
		  int nports);
void gl_build_idt(void *idt, const uint64_t *vectors);

/* A code/data descriptor's fields (SDM Figure 3-8). */
struct seg_fields {
	unsigned type, s, dpl, p, l, db, g;
	uint32_t base, limit;
};

static struct seg_fields decode_seg(uint64_t d)
{
	struct seg_fields f;
	f.limit = (uint32_t)((d & 0xffff) | ((d >> 48 & 0xf) << 16));
	f.base = (uint32_t)((d >> 16 & 0xffffff) | ((d >> 56 & 0xff) << 24));
	f.type = (unsigned)(d >> 40 & 0xf);
	f.s = (unsigned)(d >> 44 & 1);
	f.dpl = (unsigned)(d >> 45 & 3);
	f.p = (unsigned)(d >> 47 & 1);
	f.l = (unsigned)(d >> 53 & 1);
	f.db = (unsigned)(d >> 54 & 1);
	f.g = (unsigned)(d >> 55 & 1);
	return f;
}

Test(desc, selectors_follow_syscall_sysret_rules)
{
	/* syscall: CS = STAR[47:32], SS = CS + 8. sysret (64-bit): CS =
	 * STAR[63:48] + 16, SS = STAR[63:48] + 8. With STAR[63:48] = KDATA:
	 */
	cr_assert_eq(DUNE_SEL_KCODE + 8, DUNE_SEL_KDATA);
	cr_assert_eq(DUNE_SEL_KDATA + 8, DUNE_SEL_UDATA);
	cr_assert_eq(DUNE_SEL_KDATA + 16, DUNE_SEL_UCODE);
	cr_assert_eq(DUNE_SEL_TSS / 8 + 2, DUNE_GDT_ENTRIES,
		     "the 16-byte TSS descriptor is last");
}

Test(desc, gdt_code_and_data_segments)
{
	uint64_t gdt[DUNE_GDT_ENTRIES];
	memset(gdt, 0xcc, sizeof(gdt));
	gl_build_gdt(gdt, 0x1000, TSS_LIMIT);
	cr_assert_eq(gdt[0], 0, "null descriptor");

	struct {
		int sel, code, dpl;
	} segs[] = {{DUNE_SEL_KCODE, 1, 0},
		    {DUNE_SEL_KDATA, 0, 0},
		    {DUNE_SEL_UDATA, 0, 3},
		    {DUNE_SEL_UCODE, 1, 3}};
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		struct seg_fields f = decode_seg(gdt[segs[i].sel / 8]);
		cr_assert_eq(f.p, 1, "selector %#x not present", segs[i].sel);
		cr_assert_eq(f.s, 1, "selector %#x not code/data", segs[i].sel);
		cr_assert_eq(f.dpl, (unsigned)segs[i].dpl, "selector %#x DPL",
			     segs[i].sel);
		/* Accessed bit preset (bit 0 of type). */
		cr_assert_eq(f.type & 1, 1, "selector %#x accessed bit",
			     segs[i].sel);
		if (segs[i].code) {
			/* Execute/read code, 64-bit: L=1 requires D=0. */
			cr_assert_eq(f.type, 0xb, "selector %#x type",
				     segs[i].sel);
			cr_assert_eq(f.l, 1, "selector %#x L", segs[i].sel);
			cr_assert_eq(f.db, 0, "selector %#x D", segs[i].sel);
		} else {
			cr_assert_eq(f.type, 0x3, "selector %#x type",
				     segs[i].sel);
			cr_assert_eq(f.l, 0);
		}
		cr_assert_eq(f.base, 0);
		cr_assert_eq(f.limit, 0xfffff);
		cr_assert_eq(f.g, 1);
	}
}

Test(desc, gdt_tss_descriptor_with_64bit_base)
{
	uint64_t gdt[DUNE_GDT_ENTRIES];
	uint64_t base = 0x7fffa1b2c3d4ull;
	memset(gdt, 0xcc, sizeof(gdt));
	gl_build_gdt(gdt, base, TSS_LIMIT);
	uint64_t lo = gdt[DUNE_SEL_TSS / 8], hi = gdt[DUNE_SEL_TSS / 8 + 1];
	struct seg_fields f = decode_seg(lo);
	cr_assert_eq(f.type, 0x9, "available 64-bit TSS");
	cr_assert_eq(f.s, 0, "system descriptor");
	cr_assert_eq(f.p, 1);
	cr_assert_eq(f.dpl, 0);
	cr_assert_eq(f.limit, TSS_LIMIT);
	cr_assert_eq(f.g, 0, "byte granular limit");
	uint64_t full = f.base | (hi & 0xffffffffull) << 32;
	cr_assert_eq(full, base, "TSS base %#llx", (unsigned long long)full);
	cr_assert_eq(hi >> 32, 0, "upper half reserved bits must be zero");
}

Test(desc, gdt_tss_limit_above_16_bits)
{
	uint64_t gdt[DUNE_GDT_ENTRIES];
	gl_build_gdt(gdt, 0, 0x12345);
	cr_assert_eq(decode_seg(gdt[DUNE_SEL_TSS / 8]).limit, 0x12345);
}

/* Offsets of the 64-bit TSS (SDM Figure 7-11). */
#define TSS_RSP0 4
#define TSS_IST1 36
#define TSS_IOMAP_BASE 102

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

Test(desc, tss_stacks_and_io_bitmap)
{
	static uint8_t tss[TSS_IOMAP_OFF + TSS_IOMAP_BYTES + 1 + 16];
	const uint8_t ports[] = {DUNE_PORT_SYSCALL, 0x80};
	uint64_t top = 0x7f0000004000ull;
	memset(tss, 0x5a, sizeof(tss));
	gl_build_tss(tss, top, ports, 2);
	cr_assert_eq(rd64(tss + TSS_RSP0), top, "RSP0");
	cr_assert_eq(rd64(tss + TSS_IST1), top, "IST1");
	for (int i = 2; i <= 7; i++)
		cr_assert_eq(rd64(tss + TSS_IST1 + 8 * (i - 1)), 0, "IST%d", i);
	uint16_t iomap;
	memcpy(&iomap, tss + TSS_IOMAP_BASE, 2);
	cr_assert_eq(iomap, TSS_IOMAP_OFF, "I/O map base");
	const uint8_t *map = tss + TSS_IOMAP_OFF;
	/* Ring 3 gets exactly the ports asked for; everything else is denied. */
	for (int port = 0; port < 65536; port++) {
		int denied = map[port / 8] >> (port % 8) & 1;
		int granted = port == DUNE_PORT_SYSCALL || port == 0x80;
		cr_assert_eq(denied, !granted, "port %#x %s", port,
			     granted ? "should be granted" : "should be denied");
	}
	cr_assert_eq(map[TSS_IOMAP_BYTES], 0xff,
		     "the byte after the bitmap must be all ones");
	cr_assert_eq(map[TSS_IOMAP_BYTES + 1], 0x5a, "wrote past the bitmap");
	/* The hypercall and trap ports are never ring-3 reachable. */
	cr_assert(map[DUNE_PORT_HCALL / 8] >> (DUNE_PORT_HCALL % 8) & 1);
	cr_assert(map[DUNE_PORT_TRAP / 8] >> (DUNE_PORT_TRAP % 8) & 1);
}

Test(desc, tss_without_ports_denies_all)
{
	static uint8_t tss[TSS_IOMAP_OFF + TSS_IOMAP_BYTES + 1];
	gl_build_tss(tss, 0x1000, NULL, 0);
	for (int i = 0; i <= TSS_IOMAP_BYTES; i++)
		cr_assert_eq(tss[TSS_IOMAP_OFF + i], 0xff, "byte %d", i);
}

Test(desc, idt_gates)
{
	static uint64_t idt[512];
	uint64_t vec[DUNE_NR_VECTORS];
	for (int v = 0; v < DUNE_NR_VECTORS; v++)
		vec[v] = 0x7fff00000000ull + 0x123456789ull * (uint64_t)(v + 1);
	memset(idt, 0xcc, sizeof(idt));
	gl_build_idt(idt, vec);
	for (int v = 0; v < DUNE_NR_VECTORS; v++) {
		uint64_t lo = idt[2 * v], hi = idt[2 * v + 1];
		uint64_t off = (lo & 0xffff) | ((lo >> 48 & 0xffff) << 16) |
			       ((hi & 0xffffffffull) << 32);
		cr_assert_eq(off, vec[v], "vector %d offset %#llx", v,
			     (unsigned long long)off);
		cr_assert_eq(lo >> 16 & 0xffff, DUNE_SEL_KCODE, "vector %d CS",
			     v);
		cr_assert_eq(lo >> 32 & 7, 1, "vector %d IST", v);
		cr_assert_eq(lo >> 40 & 0xf, 0xe, "vector %d interrupt gate", v);
		cr_assert_eq(lo >> 44 & 1, 0, "vector %d S bit", v);
		/* int3 (#BP) and into (#OF) may be raised by ring 3. */
		cr_assert_eq(lo >> 45 & 3, (v == 3 || v == 4) ? 3u : 0u,
			     "vector %d DPL", v);
		cr_assert_eq(lo >> 47 & 1, 1, "vector %d present", v);
		cr_assert_eq(lo >> 35 & 0x1f, 0, "vector %d reserved bits", v);
		cr_assert_eq(hi >> 32, 0, "vector %d upper reserved", v);
	}
	for (int v = DUNE_NR_VECTORS; v < 256; v++)
		cr_assert(idt[2 * v] == 0 && idt[2 * v + 1] == 0,
			  "vector %d must be not present", v);
}
