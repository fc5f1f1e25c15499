#ifndef DUET_BPF_H
#define DUET_BPF_H
/* Loader for the eBPF page-cache probes (see bpf/duet.bpf.c). */
int duet_bpf_available(void);
#endif
