//! The certified tip of the block log (ICRC-3 `icrc3_get_tip_certificate`): a hash tree with the leaves
//! `last_block_hash` and `last_block_index` (LEB128), whose root hash the canister sets as its certified
//! data. Only the two-leaf tree is needed, so it is built here rather than pulling a general library.

use sha2::{Digest, Sha256};

fn domain_hash(domain: &str) -> Sha256 {
    let mut h = Sha256::new();
    h.update([domain.len() as u8]);
    h.update(domain.as_bytes());
    h
}

fn leaf_hash(contents: &[u8]) -> [u8; 32] {
    let mut h = domain_hash("ic-hashtree-leaf");
    h.update(contents);
    h.finalize().into()
}

fn labeled_hash(label: &[u8], subtree: [u8; 32]) -> [u8; 32] {
    let mut h = domain_hash("ic-hashtree-labeled");
    h.update(label);
    h.update(subtree);
    h.finalize().into()
}

fn fork_hash(left: [u8; 32], right: [u8; 32]) -> [u8; 32] {
    let mut h = domain_hash("ic-hashtree-fork");
    h.update(left);
    h.update(right);
    h.finalize().into()
}

pub fn leb128(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

const HASH_LABEL: &[u8] = b"last_block_hash";
const INDEX_LABEL: &[u8] = b"last_block_index";

/// The root hash to certify for a tip. Labels sort `last_block_hash` < `last_block_index`.
pub fn tip_root_hash(last_block_index: u64, last_block_hash: [u8; 32]) -> [u8; 32] {
    fork_hash(
        labeled_hash(HASH_LABEL, leaf_hash(&last_block_hash)),
        labeled_hash(INDEX_LABEL, leaf_hash(&leb128(last_block_index))),
    )
}

fn cbor_head(major: u8, len: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, len as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn cbor_labeled_leaf(label: &[u8], contents: &[u8], out: &mut Vec<u8>) {
    // [2, label, [3, contents]]
    cbor_head(4, 3, out);
    cbor_head(0, 2, out);
    cbor_bytes(label, out);
    cbor_head(4, 2, out);
    cbor_head(0, 3, out);
    cbor_bytes(contents, out);
}

/// The tree whose root is [`tip_root_hash`], CBOR-encoded as the IC interface specification defines
/// hash trees (self-describing tag 55799 first).
pub fn tip_hash_tree_cbor(last_block_index: u64, last_block_hash: [u8; 32]) -> Vec<u8> {
    let mut out = vec![0xd9, 0xd9, 0xf7];
    // [1, left, right]
    cbor_head(4, 3, &mut out);
    cbor_head(0, 1, &mut out);
    cbor_labeled_leaf(HASH_LABEL, &last_block_hash, &mut out);
    cbor_labeled_leaf(INDEX_LABEL, &leb128(last_block_index), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_matches_the_standard_examples() {
        assert_eq!(leb128(0), vec![0]);
        assert_eq!(leb128(127), vec![0x7f]);
        assert_eq!(leb128(128), vec![0x80, 0x01]);
        assert_eq!(leb128(624_485), vec![0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn tree_encoding_is_well_formed_and_root_depends_on_both_leaves() {
        let tree = tip_hash_tree_cbor(5, [7; 32]);
        assert_eq!(&tree[..3], &[0xd9, 0xd9, 0xf7]);
        assert_eq!(tree[3], 0x83); // array of three: a fork
        assert_ne!(tip_root_hash(5, [7; 32]), tip_root_hash(6, [7; 32]));
        assert_ne!(tip_root_hash(5, [7; 32]), tip_root_hash(5, [8; 32]));
    }
}
