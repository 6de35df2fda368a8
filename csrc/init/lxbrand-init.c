/*
 * lxbrand-init: starts a zone's init for a caller that is an interpreter.
 *
 * lxb_zone_start (csrc/launcher.c) execs this program instead of cloning
 * the caller: a clone of a Python process would keep a private copy of
 * every page the interpreter writes afterwards, and of its page tables,
 * for the zone's life.  This program reads the launch configuration from
 * the memfd it is given, clones the zone's init as the caller's child
 * (CLONE_PARENT; init runs csrc/zone_init.c as it would in the caller),
 * tells the caller init's pid on ctl, and exits.
 *
 *   lxbrand-init CONFIG_MEMFD CTL SYNC
 *
 * It is built by `make build` beside lxbrand's compiled module
 * (lxbrand/lxbrand-init), from the same sources.
 */
#include "../zone_int.h"

int main(int argc, char **argv)
{
    return lxb_starter_main(argc, argv);
}
