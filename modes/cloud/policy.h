#ifndef PYEXECD_CLOUD_POLICY_H
#define PYEXECD_CLOUD_POLICY_H

#include "../common/seccomp.h"

extern const struct seccomp_policy cloud_policy;

#endif
