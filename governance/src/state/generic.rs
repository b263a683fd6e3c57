//! Generic functions: methods of other canisters the DAO registered by proposal and calls by
//! proposal, each payload checked and rendered for voters by the function's own validator.

use super::*;

/// The most bytes of a generic function's name, and of its method's and validator's names.
const MAX_NAME_BYTES: usize = 100;

impl Governance {
    pub fn generic_function(&self, id: u64) -> Option<GenericFunction> {
        self.generic_functions.get(&id).map(|f| f.0)
    }

    /// Every registered generic function, by id (at most [`MAX_GENERIC_FUNCTIONS`]).
    pub fn generic_functions(&self) -> Vec<GenericFunction> {
        self.generic_functions.values().map(|f| f.0).collect()
    }

    /// The checks of a registration that need only the state (the target's are the canister's,
    /// which knows the system's principals): when it is proposed and again when it executes.
    pub(super) fn check_registration(
        &self,
        name: &str,
        description: &str,
        method: &str,
        validator: &str,
    ) -> Result<(), GovernanceError> {
        let identifier = |s: &str| {
            !s.is_empty()
                && s.len() <= MAX_NAME_BYTES
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(invalid("name", format!("1–{MAX_NAME_BYTES} bytes")));
        }
        if description.len() > MAX_SUMMARY_BYTES {
            return Err(invalid(
                "description",
                format!("at most {MAX_SUMMARY_BYTES} bytes"),
            ));
        }
        if !identifier(method) {
            return Err(invalid("method", "a method name: letters, digits and _"));
        }
        if !identifier(validator) {
            return Err(invalid("validator", "a method name: letters, digits and _"));
        }
        if method == validator {
            return Err(invalid("validator", "must not be the method it validates"));
        }
        if self.generic_functions.values().any(|f| f.0.name == name) {
            return Err(invalid(
                "name",
                "a generic function of this name is registered",
            ));
        }
        if self.generic_functions.len() as usize >= MAX_GENERIC_FUNCTIONS {
            return Err(invalid(
                "name",
                format!(
                    "{MAX_GENERIC_FUNCTIONS} generic functions are registered, the most allowed"
                ),
            ));
        }
        Ok(())
    }

    /// The function an `ExecuteGenericFunction` names, if `payload` may be sent to it.
    pub fn check_generic_call(
        &self,
        function: u64,
        payload: &[u8],
    ) -> Result<GenericFunction, GovernanceError> {
        if payload.len() > MAX_GENERIC_PAYLOAD_BYTES {
            return Err(invalid(
                "payload",
                format!(
                    "{} bytes; at most {MAX_GENERIC_PAYLOAD_BYTES}",
                    payload.len()
                ),
            ));
        }
        self.generic_function(function)
            .ok_or(GovernanceError::GenericFunctionNotFound { function })
    }

    /// Claims a validator call for `neuron`'s generic proposal (`Busy` while it has one in flight, or
    /// [`MAX_VALIDATIONS_IN_FLIGHT`] neurons do); released by [`Governance::end_validation`].
    pub fn begin_validation(&mut self, neuron: NeuronId) -> Result<(), GovernanceError> {
        self.validations_in_flight
            .try_begin(neuron)
            .map_err(|_| GovernanceError::Busy)
    }

    pub fn end_validation(&mut self, neuron: NeuronId) {
        self.validations_in_flight.end(&neuron);
    }

    /// Applies an executed registration or removal.
    pub(super) fn apply_generic(&mut self, id: ProposalId, action: &Action) {
        match action {
            Action::RegisterGenericFunction {
                name,
                description,
                target,
                method,
                validator,
            } => {
                let function = GenericFunction {
                    id,
                    name: name.clone(),
                    description: description.clone(),
                    target: *target,
                    method: method.clone(),
                    validator: validator.clone(),
                };
                self.generic_functions.insert(id, Candid(function));
            }
            Action::RemoveGenericFunction { function } => {
                self.generic_functions.remove(function);
            }
            _ => {}
        }
    }
}

/// What voters read for a generic call: the function, and the payload as its validator renders it
/// (with the payload's length and SHA-256, which is what is sent).
pub(super) fn render_generic_call(
    function: &GenericFunction,
    payload: &[u8],
    rendered: &str,
) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "ExecuteGenericFunction {{ function: {} ({:?}), target: {}, method: {}, payload: {} bytes, sha256 {}, validated: {:?} }}",
        function.id,
        function.name,
        function.target,
        function.method,
        payload.len(),
        hex::encode(Sha256::digest(payload)),
        rendered,
    )
}
