#ifndef PYEXECD_LOCAL_POLICY_H
#define PYEXECD_LOCAL_POLICY_H

#include "../common/seccomp.h"

extern const struct seccomp_policy local_policy;

#endif
