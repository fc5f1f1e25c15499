#define _GNU_SOURCE
#include <fcntl.h>
#include "cduet.h"

int duet_open_flag_direct(void) { return O_DIRECT; }
int duet_open_flag_noatime(void) { return O_NOATIME; }
