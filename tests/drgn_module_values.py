#!/usr/bin/env python3
"""Oracle for objects of loaded modules: drgn (fixtures venv) on a dump with its vmlinux,
plus a module's DWARF .ko when it has one, for tests/module_values.rs.

  drgn_module_values.py CORE VMLINUX [KO] < request.json

request: {"objects": [SYMBOL, ...], "lists": [[HEAD_SYMBOL, MEMBER_OFFSET, SIZE], ...]}
Every SYMBOL is looked up in the modules' own symbol tables (drgn's module_kallsyms).
Answer (stdout, JSON):
  "objects": {SYMBOL: {"module", "address", "size", "bytes" (hex, size bytes),
              "leaves": {"a.b": int | str} from drgn's typed object, or null without a type}}
  "lists":   {HEAD_SYMBOL: [{"address", "bytes"}]}: each node of the list_head at
              HEAD_SYMBOL, minus MEMBER_OFFSET (the container), SIZE raw bytes
  "symbols": [{"module", "name", "address"}] of every module
"""
import json
import sys

import drgn
from drgn.helpers.linux.kallsyms import module_kallsyms
from drgn.helpers.linux.module import for_each_module

MAX_NODES = 4096


def strip(t):
    t = t.unqualified()
    while t.kind == drgn.TypeKind.TYPEDEF:
        t = t.type.unqualified()
    return t


def leaves(obj, prefix, out):
    """Scalar members of obj by dotted path; anonymous members add no name; char arrays
    as the string up to their first NUL; other arrays and bit fields are left out."""
    t = strip(obj.type_)
    if t.kind in (drgn.TypeKind.STRUCT, drgn.TypeKind.UNION):
        for m in t.members:
            if m.bit_field_size:
                continue
            if m.name is None:
                sub = drgn.Object(obj.prog_, m.type, address=obj.address_ + m.offset)
                leaves(sub, prefix, out)
            else:
                leaves(obj.member_(m.name), f"{prefix}.{m.name}" if prefix else m.name, out)
    elif t.kind == drgn.TypeKind.ARRAY:
        if strip(t.type).kind == drgn.TypeKind.INT and strip(t.type).size == 1:
            raw = obj.prog_.read(obj.address_, t.length or 0)
            out[prefix] = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    elif t.kind in (drgn.TypeKind.INT, drgn.TypeKind.BOOL, drgn.TypeKind.ENUM,
                    drgn.TypeKind.POINTER):
        out[prefix] = int(obj.value_())


def module_symbols(prog):
    rows = []
    for mod in for_each_module(prog):
        name = mod.name.string_().decode()
        for s in module_kallsyms(mod):
            rows.append({"module": name, "name": s.name, "address": s.address, "size": s.size})
    return rows


def main():
    core, vmlinux = sys.argv[1:3]
    prog = drgn.Program()
    prog.set_core_dump(core)
    prog.load_debug_info([vmlinux] + sys.argv[3:4])
    req = json.load(sys.stdin)
    syms = module_symbols(prog)
    by_name = {}
    for s in syms:
        by_name.setdefault(s["name"], s)
    objects = {}
    for name in req.get("objects", []):
        s = by_name[name]
        try:
            typed = {}
            leaves(prog.object(name), "", typed)
        except LookupError:
            typed = None
        objects[name] = {"module": s["module"], "address": s["address"], "size": s["size"],
                         "bytes": prog.read(s["address"], s["size"]).hex(), "leaves": typed}
    lists = {}
    for head_name, offset, size in req.get("lists", []):
        head = by_name[head_name]["address"]
        nodes, node = [], prog.read_u64(head)
        while node != head and len(nodes) < MAX_NODES:
            at = node - offset
            nodes.append({"address": at, "bytes": prog.read(at, size).hex()})
            node = prog.read_u64(node)
        lists[head_name] = nodes
    json.dump({"objects": objects, "lists": lists,
               "symbols": [{k: s[k] for k in ("module", "name", "address")} for s in syms]},
              sys.stdout)


if __name__ == "__main__":
    main()
