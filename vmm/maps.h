/* vmm/maps.h: the host's view of the process's mappings. */
#ifndef VMM_MAPS_H
#define VMM_MAPS_H

#include <stdint.h>

struct vmm_vma {
	uint64_t start, end;
	int prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
	int shared;
	int file;	  /* backed by a file (inode != 0) */
	uint64_t offset;  /* file offset of start */
	const char *path; /* file path, or NULL; valid during the callback */
};

typedef int (*vmm_vma_cb)(const struct vmm_vma *v, void *arg);

/* Call cb for every vma overlapping [start, end), in address order (vmas
 * are not clipped). A non-zero return from cb stops and is returned. */
int vmm_maps_iter(uint64_t start, uint64_t end, vmm_vma_cb cb, void *arg);
/* The vma containing addr: 0, or -ENOENT. Its path stays valid until the
 * next call (one static buffer: callers hold the memory lock or are the
 * only user). */
int vmm_maps_find(uint64_t addr, struct vmm_vma *out);
/* Where the cached /proc/self/maps fd is kept (-1: none). */
int *vmm_maps_fd_slot(void);
/* Forget cached fds (after fork). */
void vmm_maps_reset(void);

#endif
