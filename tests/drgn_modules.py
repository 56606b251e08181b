"""Oracle for tests/modules.rs: the loaded modules as drgn's module helpers see them.

argv: CORE VMLINUX; stdout: a JSON list of {"name", "address", "size"}: address is the
start of drgn's first address region of the module (its core text), size the sum of the
regions' sizes (what /proc/modules counts).
"""
import json
import sys

import drgn
from drgn.helpers.linux.module import for_each_module, module_address_regions

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
out = []
for mod in for_each_module(prog):
    regions = [(int(s), int(n)) for s, n in module_address_regions(mod)]
    out.append({
        "name": mod.name.string_().decode(),
        "address": regions[0][0] if regions else 0,
        "size": sum(n for _, n in regions),
    })
json.dump(out, sys.stdout)
