//! Royalties over the IC's HTTP interface: anonymous queries (`/api/v2/canister/<id>/query`), which
//! need no key — what they answer is trusted only as far as the certificate and the chain prove it.

use crate::LogSource;
use anyhow::{anyhow, bail, Context};
use candid::{CandidType, Principal};
use ciborium::Value;
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::royalties::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a query envelope is valid (the IC accepts up to 5 minutes ahead).
const EXPIRY: Duration = Duration::from_secs(240);
/// The anonymous principal's bytes.
const ANONYMOUS: [u8; 1] = [4];

pub struct HttpSource {
    url: String,
    royalties: Principal,
    agent: ureq::Agent,
}

impl HttpSource {
    pub fn new(url: &str, royalties: Principal) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            royalties,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
        }
    }

    /// An anonymous query of `method` with Candid `arg`; returns the reply's Candid bytes.
    pub fn query_raw(&self, method: &str, arg: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let expiry = SystemTime::now().duration_since(UNIX_EPOCH)? + EXPIRY;
        let text = |s: &str| Value::Text(s.into());
        let content = Value::Map(vec![
            (text("request_type"), text("query")),
            (text("sender"), Value::Bytes(ANONYMOUS.to_vec())),
            (
                text("canister_id"),
                Value::Bytes(self.royalties.as_slice().to_vec()),
            ),
            (text("method_name"), text(method)),
            (text("arg"), Value::Bytes(arg)),
            (
                text("ingress_expiry"),
                Value::Integer((expiry.as_nanos() as u64).into()),
            ),
        ]);
        let mut body = Vec::new();
        ciborium::ser::into_writer(&Value::Map(vec![(text("content"), content)]), &mut body)?;
        let url = format!("{}/api/v2/canister/{}/query", self.url, self.royalties);
        let response = self
            .agent
            .post(&url)
            .set("Content-Type", "application/cbor")
            .send_bytes(&body)
            .map_err(|e| anyhow!("{url}: {e}"))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)?;
        let mut value: Value = ciborium::de::from_reader(bytes.as_slice())
            .with_context(|| format!("{method}: the answer is not CBOR"))?;
        if let Value::Tag(55799, inner) = value {
            value = *inner;
        }
        let field = |v: &Value, name: &str| -> Option<Value> {
            v.as_map()?
                .iter()
                .find(|(k, _)| k.as_text() == Some(name))
                .map(|(_, v)| v.clone())
        };
        match field(&value, "status").as_ref().and_then(Value::as_text) {
            Some("replied") => field(&value, "reply")
                .and_then(|r| field(&r, "arg"))
                .and_then(|a| a.into_bytes().ok())
                .ok_or_else(|| anyhow!("{method}: a reply without its argument")),
            Some("rejected") => {
                let message = field(&value, "reject_message")
                    .and_then(|m| m.into_text().ok())
                    .unwrap_or_default();
                bail!("{method} was rejected: {message}")
            }
            other => bail!("{method}: unexpected answer status {other:?}"),
        }
    }

    fn query<
        A: candid::utils::ArgumentEncoder,
        R: for<'de> candid::Deserialize<'de> + CandidType,
    >(
        &self,
        method: &str,
        args: A,
    ) -> anyhow::Result<R> {
        let reply = self.query_raw(method, candid::encode_args(args)?)?;
        candid::decode_one(&reply).with_context(|| format!("{method}: the reply does not decode"))
    }
}

impl LogSource for HttpSource {
    fn certified_tip(&mut self) -> anyhow::Result<CertifiedLogTip> {
        self.query("certified_log_tip", ())
    }

    fn encoded_page(&mut self, start: u64) -> anyhow::Result<EncodedLogPage> {
        self.query("get_log_encoded", (start, 100u32))
    }

    fn balance_of(&mut self, account: &Account) -> anyhow::Result<StakeholderBalance> {
        self.query("balance_of", (account,))
    }

    fn treasury(&mut self) -> anyhow::Result<Account> {
        let config: RoyaltiesConfig = self.query("get_config", ())?;
        Ok(config.treasury)
    }
}
