# pyexecd's read-only Python rootfs; included by the top-level Makefile.
#
#   make rootfs   build $(ROOTFS) if rootfs/build.sh or rootfs/packages.txt changed (downloads
#                 packages), and reinstall only the harness and zygote if rootfs/harness.py or
#                 rootfs/zygote.py changed (cheap)
#
# Both need root, like rootfs/build.sh. rootfs/check.sh $(ROOTFS) tests the result.

ROOTFS ?= build/rootfs

# This fragment's directory, so the rules work whatever the including Makefile's location.
# Immediately expanded: MAKEFILE_LIST changes with every later include.
ROOTFS_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# build.sh writes the stamp last, inside the tree it renames into place: the stamp exists only in
# a complete rootfs, and its mtime says which build.sh and packages.txt it was built from.
$(ROOTFS)/.pyexecd-stamp: $(ROOTFS_SRC)/build.sh $(ROOTFS_SRC)/packages.txt
	$(ROOTFS_SRC)/build.sh $(ROOTFS)

# A full build installs the harness too, and leaves it newer than its source, so this runs only
# when the harness alone changed. Order-only: a rebuilt rootfs must not reinstall it again.
$(ROOTFS)/opt/pyexecd/harness.py $(ROOTFS)/opt/pyexecd/zygote.py &: $(ROOTFS_SRC)/harness.py \
		$(ROOTFS_SRC)/zygote.py | $(ROOTFS)/.pyexecd-stamp
	$(ROOTFS_SRC)/build.sh --harness $(ROOTFS)

$(ROOTFS): $(ROOTFS)/.pyexecd-stamp $(ROOTFS)/opt/pyexecd/harness.py $(ROOTFS)/opt/pyexecd/zygote.py

.PHONY: rootfs
rootfs: $(ROOTFS)
