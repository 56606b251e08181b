#!/usr/bin/env python3
"""drgn's side of benches/log_bt.sh: print the kernel log, or every task's stack.
  drgn_log_bt.py log|bt CORE VMLINUX"""
import sys

import drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_printk_records


def main():
    what, core, vmlinux = sys.argv[1:4]
    prog = drgn.Program()
    prog.set_core_dump(core)
    prog.load_debug_info([vmlinux])
    out = []
    if what == "log":
        for r in get_printk_records(prog):
            ts = r.timestamp
            for line in r.text.decode(errors="replace").split("\n"):
                out.append(f"[{ts // 1_000_000_000:5}.{ts % 1_000_000_000 // 1000:06}] {line}")
    else:
        for task in for_each_task(prog):
            out.append(f"PID: {task.pid.value_()}")
            out.append(str(prog.stack_trace(task)))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
