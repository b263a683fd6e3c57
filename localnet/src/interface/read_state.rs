//! `read_state` and the state tree it certifies: `/time`, `/subnet`, `/request_status` (readable
//! by the request's sender only) and `/canister/<id>/…`.

use super::{error_code, text, Interface, Response};
use crate::certification::{labeled_tree, leb128};
use crate::ingress::{Request, RequestType};
use crate::LocalNet;
use candid::Principal;
use ciborium::value::Value;
use ic_certification::{leaf, HashTree};
use std::collections::BTreeMap;

/// The canister id range the one subnet serves (all of them).
const CANISTER_RANGE: ([u8; 10], [u8; 10]) = (
    [0; 10],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1],
);

impl Interface {
    /// `/request_status/<id>/…` of the calls named (`unknown` calls are left out: absent); with
    /// `only`, every other call's status is pruned to its hash.
    pub(super) fn request_status_tree(
        &self,
        net: &LocalNet,
        ids: &[[u8; 32]],
        only: Option<&[u8; 32]>,
    ) -> HashTree {
        let mut entries = BTreeMap::new();
        for id in ids {
            let Some(submitted) = self.calls.get(id) else {
                continue;
            };
            let status = match net.call_result(submitted.message) {
                None => labeled_tree(BTreeMap::from([(
                    b"status".to_vec(),
                    leaf(b"processing".to_vec()),
                )])),
                Some(Ok(reply)) => labeled_tree(BTreeMap::from([
                    (b"status".to_vec(), leaf(b"replied".to_vec())),
                    (b"reply".to_vec(), leaf(reply)),
                ])),
                Some(Err(reject)) => labeled_tree(BTreeMap::from([
                    (b"status".to_vec(), leaf(b"rejected".to_vec())),
                    (b"reject_code".to_vec(), leaf(leb128(reject.code as u64))),
                    (
                        b"reject_message".to_vec(),
                        leaf(reject.message.clone().into_bytes()),
                    ),
                    (
                        b"error_code".to_vec(),
                        leaf(error_code(&reject).as_bytes().to_vec()),
                    ),
                ])),
            };
            entries.insert(id.to_vec(), status);
        }
        match only {
            // The other requests' nodes are pruned whole, labels included: a client learns neither
            // another request's id nor its status.
            Some(kept) => crate::certification::labeled_tree_keeping(entries, kept),
            None => labeled_tree(entries),
        }
    }

    /// `read_state`: a certificate over `/time` and the requested paths' subtrees (sent unpruned).
    /// A request's status may be read only by its sender.
    pub(super) fn read_state(&self, net: &LocalNet, request: Request, now: u64) -> Response {
        if request.request_type != RequestType::ReadState {
            return Response::text(
                400,
                "the read_state endpoint takes read_state requests only",
            );
        }
        let mut top: BTreeMap<Vec<u8>, HashTree> = BTreeMap::new();
        top.insert(b"time".to_vec(), leaf(leb128(now)));
        let mut statuses = Vec::new();
        let mut canisters: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, CanisterEntry>> = BTreeMap::new();
        for path in request.paths.unwrap_or_default() {
            match path.first().map(Vec::as_slice) {
                Some(b"time") | None => {}
                Some(b"subnet") => {
                    top.insert(b"subnet".to_vec(), self.subnet_tree());
                }
                Some(b"request_status") => {
                    let Some(id) = path
                        .get(1)
                        .and_then(|id| <[u8; 32]>::try_from(id.as_slice()).ok())
                    else {
                        return Response::text(
                            400,
                            "a request_status path names a 32-byte request id",
                        );
                    };
                    if let Some(submitted) = self.calls.get(&id) {
                        if submitted.sender != request.sender {
                            return Response::text(
                                403,
                                "only the sender of a request may read its status",
                            );
                        }
                    }
                    statuses.push(id);
                }
                Some(b"canister") => {
                    let Some(id) = path
                        .get(1)
                        .and_then(|id| Principal::try_from_slice(id).ok())
                    else {
                        return Response::text(400, "a canister path names a canister id");
                    };
                    let entries = canisters.entry(id.as_slice().to_vec()).or_default();
                    match path.get(2).map(Vec::as_slice) {
                        Some(b"metadata") => {
                            let Some(name) = path.get(3).and_then(|n| std::str::from_utf8(n).ok())
                            else {
                                return Response::text(400, "a metadata path names a section");
                            };
                            let Some(section) = net.metadata(id, name) else {
                                continue;
                            };
                            let controller = net
                                .controllers(id)
                                .is_some_and(|c| c.contains(&request.sender));
                            if !section.public && !controller {
                                return Response::text(
                                    403,
                                    format!("the metadata section {name} of {id} is private to its controllers"),
                                );
                            }
                            let metadata = match entries
                                .entry(b"metadata".to_vec())
                                .or_insert_with(|| CanisterEntry::Metadata(BTreeMap::new()))
                            {
                                CanisterEntry::Metadata(m) => m,
                                CanisterEntry::Leaf(_) => unreachable!("metadata is a subtree"),
                            };
                            metadata.insert(name.as_bytes().to_vec(), section.contents);
                        }
                        _ => {
                            // A path naming the canister (or one of its leaves) gets all its leaves.
                            if let Some(hash) = net.module_hash(id) {
                                entries.insert(
                                    b"module_hash".to_vec(),
                                    CanisterEntry::Leaf(hash.to_vec()),
                                );
                            }
                            if let Some(controllers) = net.controllers(id) {
                                entries.insert(
                                    b"controllers".to_vec(),
                                    CanisterEntry::Leaf(controllers_cbor(&controllers)),
                                );
                            }
                            if let Some(data) = net.certified_data(id) {
                                entries
                                    .insert(b"certified_data".to_vec(), CanisterEntry::Leaf(data));
                            }
                        }
                    }
                }
                Some(other) => {
                    return Response::text(
                        404,
                        format!(
                            "the state tree has no path /{}",
                            String::from_utf8_lossy(other)
                        ),
                    )
                }
            }
        }
        if !statuses.is_empty() {
            top.insert(
                b"request_status".to_vec(),
                self.request_status_tree(net, &statuses, None),
            );
        }
        if !canisters.is_empty() {
            let canisters = canisters
                .into_iter()
                .map(|(id, entries)| {
                    let entries = entries
                        .into_iter()
                        .map(|(label, entry)| (label, entry.tree()))
                        .collect();
                    (id, labeled_tree(entries))
                })
                .collect();
            top.insert(b"canister".to_vec(), labeled_tree(canisters));
        }
        Response::cbor(&Value::Map(vec![(
            text("certificate"),
            Value::Bytes(self.root.certify(labeled_tree(top))),
        )]))
    }

    /// `/subnet/<subnet>/{public_key, canister_ranges, node/<node>/public_key}`.
    fn subnet_tree(&self) -> HashTree {
        let ranges = Value::Tag(
            55_799,
            Box::new(Value::Array(vec![Value::Array(vec![
                Value::Bytes(CANISTER_RANGE.0.to_vec()),
                Value::Bytes(CANISTER_RANGE.1.to_vec()),
            ])])),
        );
        let mut ranges_cbor = Vec::new();
        ciborium::ser::into_writer(&ranges, &mut ranges_cbor)
            .expect("writing to a Vec cannot fail");
        let node = labeled_tree(BTreeMap::from([(
            self.node.node_id().as_slice().to_vec(),
            labeled_tree(BTreeMap::from([(
                b"public_key".to_vec(),
                leaf(self.node.public_key_der()),
            )])),
        )]));
        let subnet = labeled_tree(BTreeMap::from([
            (b"canister_ranges".to_vec(), leaf(ranges_cbor)),
            (b"node".to_vec(), node),
            (b"public_key".to_vec(), leaf(self.root.public_key_der())),
        ]));
        labeled_tree(BTreeMap::from([(
            self.subnet_id().as_slice().to_vec(),
            subnet,
        )]))
    }
}

/// A node under `/canister/<id>` in a read_state answer.
enum CanisterEntry {
    Leaf(Vec<u8>),
    Metadata(BTreeMap<Vec<u8>, Vec<u8>>),
}

impl CanisterEntry {
    fn tree(self) -> HashTree {
        match self {
            Self::Leaf(bytes) => leaf(bytes),
            Self::Metadata(sections) => labeled_tree(
                sections
                    .into_iter()
                    .map(|(name, contents)| (name, leaf(contents)))
                    .collect(),
            ),
        }
    }
}

/// A canister's controllers as the state tree holds them: self-describing CBOR, an array of
/// principals' bytes.
fn controllers_cbor(controllers: &[Principal]) -> Vec<u8> {
    let value = Value::Tag(
        55_799,
        Box::new(Value::Array(
            controllers
                .iter()
                .map(|c| Value::Bytes(c.as_slice().to_vec()))
                .collect(),
        )),
    );
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).expect("writing to a Vec cannot fail");
    out
}
