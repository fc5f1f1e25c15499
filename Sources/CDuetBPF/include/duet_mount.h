/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* statx(STATX_MNT_ID), which Glibc's Swift module does not expose (needs _GNU_SOURCE). */
#ifndef DUET_MOUNT_H
#define DUET_MOUNT_H

/* The mount id (mountinfo field 1) of the mount holding path. 0, or a negative errno
 * (-EOPNOTSUPP when the kernel does not report mount ids, before Linux 5.8). */
int duet_mount_id(const char *path, unsigned long long *mount_id);

#endif
