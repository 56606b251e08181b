#!/usr/bin/env python3
"""drgn side of benches/vmas.sh: open a dump, then walk every VMA of every process
(`all`) or of one pid, with drgn's for_each_vma; print the VMA count.

  drgn_vmas.py CORE VMLINUX all|PID
"""
import sys

import drgn
from drgn.helpers.linux.mm import for_each_vma
from drgn.helpers.linux.pid import find_task, for_each_task


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    core, vmlinux, what = sys.argv[1:]
    prog = drgn.Program()
    prog.set_core_dump(core)
    prog.load_debug_info([vmlinux])
    if what == "all":
        tasks = [t for t in for_each_task(prog) if t.mm.value_() and t.pid.value_() == t.tgid.value_()]
    else:
        tasks = [find_task(prog, int(what))]
    n = 0
    for t in tasks:
        for v in for_each_vma(t.mm):
            # Read what a maps line needs from the VMA itself.
            v.vm_start.value_(), v.vm_end.value_(), v.vm_flags.value_(), v.vm_pgoff.value_(), v.vm_file.value_()
            n += 1
    print(n)


if __name__ == "__main__":
    main()
