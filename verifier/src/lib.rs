//! A stakeholder's check of royalties' settlement log, trusting only the network's root key:
//! 1. the IC's certificate of the log's tip verifies against the root key and certifies this
//!    canister's `certified_data` as the tip's hash;
//! 2. every entry up to that tip chains to it (format-2 entries rehashed from the bytes served);
//! 3. the verified bytes are decoded and replayed ([`LogReplay`]): every credit of every batch is
//!    recomputed from the receipts, the share tables and the splits the log itself records.
//!
//! A [`LogReplay`] saved after a run is a checkpoint: the next run goes on from its index (the first
//! entry it fetches must name the checkpoint's hash), so verifying stays proportional to what is new.

pub mod http;

use candid::Principal;
use ic_cbor::CertificateToCbor;
use ic_certificate_verification::VerifyCertificate;
use ic_certification::{Certificate, LookupResult};
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::royalties::*;

/// What the verifier asks of royalties (over the network's HTTP interface, or in process in tests).
pub trait LogSource {
    /// `certified_log_tip`, as a non-replicated query (the only kind that carries a certificate).
    fn certified_tip(&mut self) -> anyhow::Result<CertifiedLogTip>;
    /// `get_log_encoded(start, 100)`.
    fn encoded_page(&mut self, start: u64) -> anyhow::Result<EncodedLogPage>;
    /// `balance_of(account)`: what the canister says it owes (not certified: compared, not trusted).
    fn balance_of(&mut self, account: &Account) -> anyhow::Result<StakeholderBalance>;
    /// The treasury of `get_config` (who is paid the treasury's part and unattributable receipts).
    fn treasury(&mut self) -> anyhow::Result<Account>;
}

/// What the verifier trusts: the root key, and a clock to judge the certificate's age by.
pub struct Trust {
    pub royalties: Principal,
    /// DER, as `/api/v2/status` and icp.yaml's `root-key` give it.
    pub root_key_der: Vec<u8>,
    pub now_nanos: u128,
    /// How far the certificate's time may be from `now_nanos`.
    pub max_certificate_skew_nanos: u128,
}

#[derive(Debug)]
pub enum VerifyError {
    Source(String),
    NoCertificate,
    Certificate(String),
    /// The certificate certifies other data than the tip served with it.
    NotTheCertifiedTip,
    /// The log served is shorter than the certified tip, or than the checkpoint.
    Truncated {
        have: u64,
        want: u64,
    },
    Chain(ChainError),
    /// The verified chain does not end at the certified hash.
    TipMismatch,
    Undecodable {
        index: u64,
        reason: String,
    },
    Replay(ReplayError),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Source(e) => write!(f, "royalties could not be read: {e}"),
            Self::NoCertificate => write!(
                f,
                "the tip came without a certificate (was it a replicated query?)"
            ),
            Self::Certificate(e) => write!(f, "the certificate does not verify: {e}"),
            Self::NotTheCertifiedTip => write!(
                f,
                "the certificate certifies another tip than the one served"
            ),
            Self::Truncated { have, want } => {
                write!(
                    f,
                    "the log served ends at {have} entries; {want} are certified or checkpointed"
                )
            }
            Self::Chain(e) => write!(f, "the hash chain breaks: {e}"),
            Self::TipMismatch => write!(f, "the chain does not end at the certified hash"),
            Self::Undecodable { index, reason } => {
                write!(f, "entry {index} does not decode: {reason}")
            }
            Self::Replay(e) => write!(f, "a credit is not what the log gives: {e}"),
        }
    }
}

impl std::error::Error for VerifyError {}

fn source(e: anyhow::Error) -> VerifyError {
    VerifyError::Source(format!("{e:#}"))
}

/// Checks `tip.certificate` against the root key and that it certifies `tip.hash` for royalties.
pub fn check_certificate(tip: &CertifiedLogTip, trust: &Trust) -> Result<(), VerifyError> {
    let bytes = tip.certificate.as_ref().ok_or(VerifyError::NoCertificate)?;
    let certificate =
        Certificate::from_cbor(bytes).map_err(|e| VerifyError::Certificate(e.to_string()))?;
    certificate
        .verify(
            trust.royalties.as_slice(),
            &trust.root_key_der,
            &trust.now_nanos,
            &trust.max_certificate_skew_nanos,
        )
        .map_err(|e| VerifyError::Certificate(e.to_string()))?;
    let path: [&[u8]; 3] = [b"canister", trust.royalties.as_slice(), b"certified_data"];
    match certificate.tree.lookup_path(&path) {
        LookupResult::Found(data) if data == tip.hash.as_slice() => Ok(()),
        _ => Err(VerifyError::NotTheCertifiedTip),
    }
}

/// The outcome of a run.
pub struct Verdict {
    /// The index the run started from (0, or the checkpoint's).
    pub from_index: u64,
    /// The certified length the run verified up to.
    pub length: u64,
    /// Entries of format 1 (verified by their links only), at the log's start.
    pub legacy_entries: u64,
    /// The replay after the last entry: save it as the next run's checkpoint.
    pub replay: LogReplay,
}

/// Verifies the certified tip, the chain up to it and every credit in it, from `checkpoint` (or from
/// the first entry).
pub fn verify<S: LogSource>(
    source_: &mut S,
    trust: &Trust,
    checkpoint: Option<LogReplay>,
) -> Result<Verdict, VerifyError> {
    let tip = source_.certified_tip().map_err(source)?;
    check_certificate(&tip, trust)?;
    let mut replay = match checkpoint {
        Some(replay) => replay,
        None => LogReplay::new(source_.treasury().map_err(source)?),
    };
    let from_index = replay.next_index;
    if tip.length < from_index {
        return Err(VerifyError::Truncated {
            have: tip.length,
            want: from_index,
        });
    }
    let mut prev: [u8; 32] = replay
        .tip
        .as_slice()
        .try_into()
        .map_err(|_| VerifyError::TipMismatch)?;
    while replay.next_index < tip.length {
        let page = source_.encoded_page(replay.next_index).map_err(source)?;
        let wanted = (tip.length - replay.next_index) as usize;
        let entries = &page.entries[..page.entries.len().min(wanted)];
        if entries.is_empty() {
            return Err(VerifyError::Truncated {
                have: replay.next_index,
                want: tip.length,
            });
        }
        prev = verify_log_chain(prev, replay.next_index, replay.legacy_entries, entries)
            .map_err(VerifyError::Chain)?;
        for e in entries {
            let event: LogEvent =
                candid::decode_one(&e.event).map_err(|err| VerifyError::Undecodable {
                    index: e.index,
                    reason: err.to_string(),
                })?;
            if e.format == LOG_FORMAT_V1 {
                replay.legacy_entries += 1;
            }
            replay
                .apply(e.index, e.timestamp, &e.hash, &event)
                .map_err(VerifyError::Replay)?;
        }
    }
    if prev.as_slice() != tip.hash.as_slice() {
        return Err(VerifyError::TipMismatch);
    }
    Ok(Verdict {
        from_index,
        length: tip.length,
        legacy_entries: replay.legacy_entries,
        replay,
    })
}

/// One account, recomputed and as the canister reports it.
pub struct AccountCheck {
    pub account: Account,
    pub recomputed: ReplayedAccount,
    pub reported: StakeholderBalance,
}

impl AccountCheck {
    /// The canister owes what the log gives. (The canister may have settled more since the certified
    /// tip: then it reports more, and a run a moment later agrees.)
    pub fn agrees(&self) -> bool {
        self.recomputed.credited_total == self.reported.credited_total
            && self.recomputed.remainder == self.reported.entitlement_remainder
    }
}

pub fn check_account<S: LogSource>(
    source_: &mut S,
    replay: &LogReplay,
    account: &Account,
) -> Result<AccountCheck, VerifyError> {
    Ok(AccountCheck {
        account: *account,
        recomputed: replay.account(account),
        reported: source_.balance_of(account).map_err(source)?,
    })
}
