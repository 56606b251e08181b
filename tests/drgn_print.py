"""Oracle for tests/print_drgn.rs: evaluate drgn expressions on a dump.

argv: CORE VMLINUX; stdin: a JSON list of drgn (Python) expressions; stdout: a JSON
list of {"kind": int|ptr|str|obj, "value", "address"} in the same order.
"""
import json
import sys

import drgn
from drgn import FaultError, Object, TypeKind, container_of, offsetof, sizeof
from drgn.helpers.linux.list import hlist_for_each_entry, list_for_each_entry
from drgn.helpers.linux.mm import follow_phys
from drgn.helpers.linux.percpu import per_cpu, per_cpu_ptr
from drgn.helpers.linux.pid import find_task, for_each_task
from drgn.helpers.linux.rbtree import rbtree_inorder_for_each_entry

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
ns = {
    "prog": prog,
    "Object": Object,
    "container_of": container_of,
    "offsetof": offsetof,
    "sizeof": sizeof,
    "per_cpu": per_cpu,
    "per_cpu_ptr": per_cpu_ptr,
    "find_task": find_task,
    "list_for_each_entry": list_for_each_entry,
    "hlist_for_each_entry": hlist_for_each_entry,
    "rbtree_inorder_for_each_entry": rbtree_inorder_for_each_entry,
    "for_each_task": for_each_task,
    "mt_entries": lambda mt: [e.value_() for _, _, e in __import__("drgn.helpers.linux.mapletree", fromlist=["mt_for_each"]).mt_for_each(mt)],
    "phys": lambda mm, a: phys(mm, a),
    "mt_nodes": lambda mt: mt_nodes(mt),
    "sym_at": lambda a: (lambda s: s.name if a == s.address else f"{s.name}+{a - s.address:#x}")(prog.symbol(a)),
}


def mt_nodes(mt):
    """How many nodes a maple tree has (drgn's own node decoding, breadth first as
    mt_for_each walks them); 0 when the root is an entry or empty."""
    from drgn.helpers.linux import mapletree as m

    root = mt.ma_root.value_()
    if not m._xa_is_node(root):
        return 0
    queue, count = [(root, m._ulong_max(mt.prog_))], 0
    while queue:
        entry, top = queue.pop()
        count += 1
        _, pivots, slots, end, leaf = m._mte_to_node(mt.prog_, entry, top)
        if not leaf:
            for offset in range(end + 1):
                hi = pivots[offset].value_() if offset < end else top
                queue.append((slots[offset].value_(), hi))
    return count


def phys(mm, addr):
    """follow_phys, or None where drgn finds no mapping."""
    try:
        return follow_phys(mm, addr).value_()
    except FaultError:
        return None


def describe(o):
    if o is None:
        return {"kind": "none", "value": None, "address": None}
    if isinstance(o, list):
        return {"kind": "list", "value": [describe(x)["value"] for x in o], "address": None}
    if isinstance(o, str):
        return {"kind": "name", "value": o, "address": None}
    if isinstance(o, int):
        return {"kind": "int", "value": o, "address": None}
    t = o.type_
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    out = {"address": o.address_}
    if t.kind in (TypeKind.INT, TypeKind.BOOL, TypeKind.ENUM):
        out.update(kind="int", value=int(o.value_()))
    elif t.kind == TypeKind.POINTER:
        out.update(kind="ptr", value=o.value_())
    elif t.kind == TypeKind.ARRAY and t.type.unqualified().name == "char":
        out.update(kind="str", value=o.string_().decode(errors="replace"))
    else:
        out.update(kind="obj", value=None)
    return out


print(json.dumps([describe(eval(e, ns)) for e in json.load(sys.stdin)]))
