"""drgn side of benches/print.sh: open the dump and print init_mm.map_count, from process start."""
import sys

import drgn

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
print(prog["init_mm"].map_count.value_())
