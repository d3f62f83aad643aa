/* The daemon's own open-file limit: each client connection is a descriptor. */
#ifndef PYEXECD_FDLIMIT_H
#define PYEXECD_FDLIMIT_H

/* Raises the soft RLIMIT_NOFILE to the hard one and logs both. Returns the soft limit in force
 * afterwards, or -1 if it cannot be read. */
long fdlimit_raise(void);

#endif
