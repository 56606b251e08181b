//! The on-disk DWARF name index cache: header, key, checksum, payload tables.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (len, rest) = data.split_at(data.len().min(8));
    let mut b = [0u8; 8];
    b[..len.len()].copy_from_slice(len);
    let info_len = u64::from_le_bytes(b);
    if let Some(ix) = vmscope::debuginfo::decode_cache(rest, b"fuzz", info_len) {
        let _ = ix.composites_in_order();
        let _ = ix.all_names().count();
    }
});
