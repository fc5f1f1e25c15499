#include "duet_bpf.h"
int duet_bpf_available(void) { return 0; }
