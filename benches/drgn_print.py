"""drgn side of benches/print.sh, from process start: open the dump and print
init_mm.map_count, or (argv[3] == "tasks") every task on init_task.tasks with its pid
and comm, as `vmscope list init_task.tasks --type task_struct --member tasks --print pid,comm`."""
import sys

import drgn
from drgn.helpers.linux.list import list_for_each_entry

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
if sys.argv[3:] == ["tasks"]:
    head = prog["init_task"].tasks.address_of_()
    for t in list_for_each_entry("struct task_struct", head, "tasks"):
        print(hex(t.value_()), t.pid.value_(), t.comm.string_().decode())
else:
    print(prog["init_mm"].map_count.value_())
