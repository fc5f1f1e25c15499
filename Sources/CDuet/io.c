#define _GNU_SOURCE
#include <fcntl.h>
#include "cduet.h"

int duet_open_direct(const char *path, int flags) {
    return open(path, flags | O_DIRECT | O_CLOEXEC);
}
