// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include "duet_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

int duet_mount_id(const char *path, unsigned long long *mount_id)
{
	struct statx info;
	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &info) != 0)
		return -errno;
	if (!(info.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	*mount_id = info.stx_mnt_id;
	return 0;
}
