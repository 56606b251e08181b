//! Call frame information (`.debug_frame`, x86-64): for a code address, where the
//! caller's stack pointer, return address and frame pointer are. The unwinder's rules
//! for a kernel built without ORC (and without frame pointers), as drgn unwinds it.
//!
//! The FDEs are indexed by address once (a few hundred KB of `.debug_frame`); each
//! lookup then runs one FDE's instructions.

use std::cell::RefCell;

use gimli::{
    BaseAddresses, CfaRule, CieOrFde, DebugFrame, FrameDescriptionEntry, LittleEndian,
    RegisterRule, UnwindContext, UnwindSection, X86_64,
};

use super::sections::{DebugInfoError, Slice};
use super::TypeDb;

/// The register the caller's stack pointer (the CFA) is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CfaBase {
    Sp,
    Bp,
}

/// How to find the caller of code at one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRule {
    /// The caller's sp (the CFA) = base register + offset.
    pub cfa: (CfaBase, i64),
    /// The return address is saved at CFA + this.
    pub ra_offset: i64,
    /// The caller's bp is saved at CFA + this; None: bp is unchanged.
    pub bp_offset: Option<i64>,
}

/// Bound on the FDEs indexed (6.12's vmlinux has about 40,000).
const MAX_FDES: usize = 1 << 21;

/// `.debug_frame` indexed by address.
pub struct CallFrames<'a> {
    section: DebugFrame<Slice<'a>>,
    bases: BaseAddresses,
    /// Sorted by initial address.
    fdes: Vec<FrameDescriptionEntry<Slice<'a>>>,
    ctx: RefCell<Box<UnwindContext<usize>>>,
}

impl TypeDb {
    /// The call frame information of this file; None when it has no `.debug_frame`.
    pub fn call_frames(&self) -> Result<Option<CallFrames<'_>>, DebugInfoError> {
        let file = self.dwarf_file();
        let bytes = file.debug_frame()?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let mut section = DebugFrame::new(bytes, LittleEndian);
        section.set_address_size(8);
        let bases = BaseAddresses::default();
        let mut fdes = Vec::new();
        let mut entries = section.entries(&bases);
        // gimli's errors here carry no offset: say which entry it was.
        let bad = |e: gimli::Error, n: usize| DebugInfoError::BadDwarf {
            path: file.path().to_path_buf(),
            offset: 0,
            reason: format!(".debug_frame, after FDE {n}: {e}"),
        };
        while let Some(entry) = entries.next().map_err(|e| bad(e, fdes.len()))? {
            if fdes.len() >= MAX_FDES {
                break;
            }
            if let CieOrFde::Fde(partial) = entry {
                let fde = partial
                    .parse(|s, b, o| s.cie_from_offset(b, o))
                    .map_err(|e| bad(e, fdes.len()))?;
                if fde.len() > 0 {
                    fdes.push(fde);
                }
            }
        }
        fdes.sort_by_key(|f| f.initial_address());
        Ok(Some(CallFrames {
            section,
            bases,
            fdes,
            ctx: RefCell::new(Box::new(UnwindContext::new())),
        }))
    }
}

impl CallFrames<'_> {
    pub fn len(&self) -> usize {
        self.fdes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fdes.is_empty()
    }

    /// The rule at link-time address `pc`; None when no FDE covers it or its rule is
    /// not one a kernel stack walk can follow (a CFA from another register, an
    /// expression).
    pub fn rule(&self, pc: u64) -> Option<FrameRule> {
        let i = self.fdes.partition_point(|f| f.initial_address() <= pc);
        let fde = self.fdes.get(i.checked_sub(1)?)?;
        if !fde.contains(pc) {
            return None;
        }
        let mut ctx = self.ctx.borrow_mut();
        let row = fde
            .unwind_info_for_address(&self.section, &self.bases, &mut ctx, pc)
            .ok()?;
        let cfa = match row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } if *register == X86_64::RSP => {
                (CfaBase::Sp, *offset)
            }
            CfaRule::RegisterAndOffset { register, offset } if *register == X86_64::RBP => {
                (CfaBase::Bp, *offset)
            }
            _ => return None,
        };
        let ra_offset = match row.register(X86_64::RA) {
            RegisterRule::Offset(o) => o,
            _ => return None,
        };
        let bp_offset = match row.register(X86_64::RBP) {
            RegisterRule::Offset(o) => Some(o),
            _ => None,
        };
        Some(FrameRule {
            cfa,
            ra_offset,
            bp_offset,
        })
    }
}
